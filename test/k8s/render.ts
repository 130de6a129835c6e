// Renders the kustomizations under k8s/ with `kubectl kustomize` (offline: no cluster is asked),
// parses the YAML and checks every object against the Kubernetes API schema (kubernetes-models).
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** The kustomizations, by the path `kubectl kustomize` is given (relative to the repository). */
export const TARGETS = ["k8s", "k8s/overlays/dev", "k8s/overlays/prod"] as const;
export type Target = (typeof TARGETS)[number];

/** apiVersion/kind -> the model that validates it. A kind missing here fails the tests: add it. */
const MODELS = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/Ingress": Ingress,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
} as const;

type Models = typeof MODELS;
export type Kind = keyof Models;
export type ModelOf<K extends Kind> = InstanceType<Models[K]>;

export interface Rendered {
  target: Target;
  /** Every object, validated, in rendering order. */
  objects: Array<InstanceType<Models[Kind]>>;
  /** The objects of one apiVersion/kind. */
  all<K extends Kind>(kind: K): Array<ModelOf<K>>;
  /** The one object of that kind and name; fails when there is none. */
  get<K extends Kind>(kind: K, name: string): ModelOf<K>;
}

const KUBECTL_OPTIONS = { cwd: REPO, encoding: "utf8", timeout: 30_000 } as const;

function kubectlFailure(target: string, error: unknown): Error {
  const failure = error as NodeJS.ErrnoException & { stderr?: string };
  if (failure.code === "ENOENT") {
    return new Error("kubectl is not on PATH: these tests render k8s/ with `kubectl kustomize` (kubectl 1.27 or newer, kustomize v5); install kubectl", { cause: error });
  }
  return new Error(`kubectl kustomize ${target} failed:\n${failure.stderr || failure.message}`, { cause: error });
}

export function kubectlKustomize(target: string): string {
  try {
    return execFileSync("kubectl", ["kustomize", target], { ...KUBECTL_OPTIONS, stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    throw kubectlFailure(target, error);
  }
}

/** Parses a multi-document YAML stream; a YAML error fails. */
export function parseYamlStream(text: string): Array<Record<string, unknown>> {
  return parseAllDocuments(text).flatMap((document) => {
    if (document.errors.length > 0) throw new Error(`invalid YAML: ${document.errors.map((error) => error.message).join("; ")}`);
    const value: unknown = document.toJS();
    if (value === null || value === undefined) return [];
    if (typeof value !== "object" || Array.isArray(value)) throw new Error(`a YAML document is not an object: ${JSON.stringify(value).slice(0, 80)}`);
    return [value as Record<string, unknown>];
  });
}

/** Builds the model for an object and validates it against the API schema; throws on failure. */
export function validated(raw: Record<string, unknown>): InstanceType<Models[Kind]> {
  const key = `${String(raw.apiVersion)}/${String(raw.kind)}`;
  const metadata = raw.metadata as { name?: unknown } | undefined;
  const name = `${key} ${String(metadata?.name)}`;
  if (!(key in MODELS)) throw new Error(`${name}: no model for ${key} in test/k8s/render.ts`);
  const model = new MODELS[key as Kind](raw as never);
  try {
    model.validate();
  } catch (error) {
    throw new Error(`${name} is not a valid object: ${(error as Error).message}`, { cause: error });
  }
  return model;
}

function keyOf(object: { apiVersion: string; kind: string }): string {
  return `${object.apiVersion}/${object.kind}`;
}

const cache = new Map<Target, Rendered>();
const texts = new Map<Target, string>();

/** Renders every target at once (kubectl runs in parallel), so that rendered() finds them ready. */
export async function renderAll(): Promise<void> {
  await Promise.all(
    TARGETS.map(async (target) => {
      try {
        texts.set(target, (await promisify(execFile)("kubectl", ["kustomize", target], KUBECTL_OPTIONS)).stdout);
      } catch (error) {
        throw kubectlFailure(target, error);
      }
    }),
  );
}

export function rendered(target: Target): Rendered {
  const hit = cache.get(target);
  if (hit) return hit;
  const objects = parseYamlStream(texts.get(target) ?? kubectlKustomize(target)).map(validated);
  const result: Rendered = {
    target,
    objects,
    all: <K extends Kind>(kind: K) => objects.filter((object) => keyOf(object) === kind) as Array<ModelOf<K>>,
    get: <K extends Kind>(kind: K, name: string) => {
      const found = objects.filter((object) => keyOf(object) === kind && object.metadata?.name === name);
      if (found.length !== 1) throw new Error(`${target}: expected one ${kind} named ${name}, found ${found.length}`);
      return found[0] as ModelOf<K>;
    },
  };
  cache.set(target, result);
  return result;
}

/** The variable names of the README's configuration table. */
export function readmeVariables(): Set<string> {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  return new Set([...readme.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((match) => match[1]!));
}

/** A Kubernetes quantity (512Mi, 1Gi, 500m, 1) in bytes or cores. */
export function quantity(value: string | number | undefined): number {
  if (value === undefined) throw new Error("no quantity");
  if (typeof value === "number") return value;
  const match = /^(\d+(?:\.\d+)?)(m|k|M|G|Ki|Mi|Gi|Ti)?$/.exec(value);
  if (!match) throw new Error(`not a quantity: ${value}`);
  const factors: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(match[1]) * factors[match[2] ?? ""]!;
}
