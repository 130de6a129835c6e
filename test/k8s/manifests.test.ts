// The Kubernetes manifests (k8s/): each kustomization renders offline with `kubectl kustomize`,
// every object is valid against the API schema, and the policies the deployment depends on hold.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import type { Deployment } from "kubernetes-models/apps/v1/Deployment";
import type { IIoK8sApiCoreV1Container as Container } from "kubernetes-models/v1/Container";
import type { IIoK8sApiCoreV1PodSpec as PodSpec } from "kubernetes-models/v1/PodSpec";
import { loadConfig } from "../../server/config.ts";
import { quantity, readmeVariables, renderAll, rendered, TARGETS, validated, type Rendered } from "./render.ts";

const MiB = 2 ** 20;
/** Measured (README, npm run bench): an idle sandbox's PSS, and the server's own share. */
const IDLE_SANDBOX_MIB = 110;
const SERVER_MIB = 100;
/** Variables the server reads that the README's table does not list yet, and POD_IP (only there to build POD_ADDRESS). */
const NEW_VARIABLES = ["DRAIN_TIMEOUT", "CHECKPOINT_AFTER", "POD_IP"];
const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"];

function server(render: Rendered): { deployment: Deployment; pod: PodSpec; container: Container } {
  const deployment = render.get("apps/v1/Deployment", "wasm-repl");
  const pod = deployment.spec?.template.spec;
  assert.ok(pod, `${render.target}: the Deployment has a pod template`);
  const container = pod.containers.find((candidate) => candidate.name === "server");
  assert.ok(container, `${render.target}: the Deployment has a container named server`);
  return { deployment, pod, container };
}

function env(container: Container, name: string) {
  const entries = (container.env ?? []).filter((entry) => entry.name === name);
  assert.ok(entries.length <= 1, `${name} is set once`);
  return entries[0];
}

/** The ConfigMap the server's envFrom names (a generated name with a hash suffix). */
function config(render: Rendered): Record<string, string> {
  const { container } = server(render);
  const names = (container.envFrom ?? []).map((source) => source.configMapRef?.name).filter((name): name is string => name !== undefined);
  assert.equal(names.length, 1, `${render.target}: the server takes its settings from one ConfigMap`);
  return render.get("v1/ConfigMap", names[0]!).data ?? {};
}

function containerPort(container: Container, port: string | number | undefined): number | undefined {
  if (typeof port === "number") return port;
  return container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

before(renderAll);

for (const target of TARGETS) {
  test(`${target}: renders offline into objects that are valid against the API schema`, () => {
    const render = rendered(target);
    const names = render.objects.map((object) => `${object.kind}/${object.metadata?.name}`);
    assert.equal(new Set(names).size, names.length, `no object twice: ${names.join(", ")}`);
    for (const kind of ["Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap", "ServiceAccount"]) {
      assert.ok(render.objects.some((object) => object.kind === kind), `${target} has a ${kind}`);
    }
  });

  test(`${target}: no secret value anywhere, no Service exposed outside the cluster`, () => {
    const render = rendered(target);
    for (const secret of render.all("v1/Secret")) {
      assert.ok(!secret.data && !secret.stringData, `Secret ${secret.metadata?.name} carries no data (secrets are made by hand, never committed)`);
    }
    const settings = config(render);
    for (const name of ["JWT_SECRET", "LLM_API_KEY", "JWT_PUBLIC_KEY"]) assert.equal(settings[name], undefined, `${name} is not in the ConfigMap`);
    if (settings.REDIS_URL !== undefined) assert.doesNotMatch(settings.REDIS_URL, /@/, "a REDIS_URL in the ConfigMap carries no password");
    for (const service of render.all("v1/Service")) {
      assert.ok(!["LoadBalancer", "NodePort"].includes(service.spec?.type ?? "ClusterIP"), `Service ${service.metadata?.name} is ClusterIP or headless`);
    }
  });

  test(`${target}: the server's pods run locked down`, () => {
    const render = rendered(target);
    for (const deployment of render.all("apps/v1/Deployment")) {
      const name = deployment.metadata?.name;
      const pod = deployment.spec!.template.spec!;
      assert.equal(pod.automountServiceAccountToken, false, `${name}: no service account token`);
      assert.ok(!pod.hostNetwork && !pod.hostPID && !pod.hostIPC, `${name}: no host namespaces`);
      for (const volume of pod.volumes ?? []) assert.ok(volume.emptyDir || volume.configMap || volume.secret, `${name}: volume ${volume.name} is an emptyDir, ConfigMap or Secret`);
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        const where = `${name}/${container.name}`;
        const security = container.securityContext;
        assert.equal(security?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, true, `${where}: runAsNonRoot`);
        assert.ok((security?.runAsUser ?? pod.securityContext?.runAsUser ?? 0) > 0, `${where}: a non-root uid`);
        assert.equal(security?.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
        assert.equal(security?.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation false`);
        assert.ok(!security?.privileged, `${where}: not privileged`);
        assert.deepEqual(security?.capabilities?.drop, ["ALL"], `${where}: drops ALL capabilities`);
        assert.equal(security?.capabilities?.add, undefined, `${where}: adds none`);
        assert.equal((security?.seccompProfile ?? pod.securityContext?.seccompProfile)?.type, "RuntimeDefault", `${where}: seccomp RuntimeDefault`);
        const { requests, limits } = container.resources ?? {};
        for (const resource of ["cpu", "memory"]) {
          assert.ok(requests?.[resource] !== undefined && limits?.[resource] !== undefined, `${where}: ${resource} request and limit`);
          assert.ok(quantity(requests[resource]) <= quantity(limits[resource]), `${where}: ${resource} request within its limit`);
        }
      }
    }
    const { pod } = server(render);
    assert.equal(pod.securityContext?.runAsUser, 10001, "the server runs as uid 10001, the image's user");
    assert.equal(render.get("v1/ServiceAccount", pod.serviceAccountName ?? "").automountServiceAccountToken, false, "its ServiceAccount mounts no token either");
  });

  test(`${target}: the server's probes, resources and graceful shutdown`, () => {
    const render = rendered(target);
    const { pod, container } = server(render);
    assert.equal(containerPort(container, "http"), 8000);
    const probes = { readinessProbe: "/ready", livenessProbe: "/health", startupProbe: "/health" } as const;
    for (const [probe, path] of Object.entries(probes) as Array<[keyof typeof probes, string]>) {
      const get = container[probe]?.httpGet;
      assert.equal(get?.path, path, `${probe} GETs ${path}`);
      assert.equal(containerPort(container, get?.port), 8000, `${probe} asks port 8000`);
    }
    const startup = container.startupProbe!;
    assert.ok((startup.failureThreshold ?? 3) * (startup.periodSeconds ?? 10) >= 120, "the startupProbe allows at least 2 minutes: a first start may build the base snapshot");

    const { requests, limits } = container.resources!;
    if (target !== "k8s/overlays/prod") {
      // The original guide's values.
      assert.equal(quantity(requests!.memory), 512 * MiB);
      assert.equal(quantity(requests!.cpu), 0.5);
      assert.equal(quantity(limits!.memory), 1024 * MiB);
      assert.equal(quantity(limits!.cpu), 1);
    }
    const settings = config(render);
    const sessions = Number(settings.MAX_SESSIONS);
    const pool = Number(settings.POOL_SIZE ?? 2);
    assert.ok(Number.isInteger(sessions) && sessions > 0, "MAX_SESSIONS is set");
    assert.ok((sessions + pool) * IDLE_SANDBOX_MIB + SERVER_MIB <= quantity(limits!.memory) / MiB, `MAX_SESSIONS=${sessions} idle sessions and ${pool} warm sandboxes fit the memory limit`);

    const drain = Number(settings.DRAIN_TIMEOUT);
    assert.ok(drain > 0, "DRAIN_TIMEOUT is set in the ConfigMap");
    const preStop = container.lifecycle?.preStop;
    assert.ok(preStop, "a preStop hook lets endpoints update before SIGTERM");
    const command = preStop.exec?.command ?? [];
    assert.equal(command[0], "sleep", "preStop sleeps");
    const sleep = preStop.sleep ? Number(preStop.sleep.seconds) : Number(command[1]);
    assert.ok(sleep > 0 && sleep <= 15, "a short sleep");
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    assert.ok(grace > sleep + drain, `terminationGracePeriodSeconds ${grace} > preStop ${sleep} + DRAIN_TIMEOUT ${drain}`);
  });

  test(`${target}: the server's environment: downward API, ConfigMap, Secrets, all known to the server`, () => {
    const render = rendered(target);
    const { container } = server(render);
    assert.equal(env(container, "HOST")?.value, "0.0.0.0");
    assert.equal(env(container, "PORT")?.value, String(containerPort(container, "http")));
    assert.equal(env(container, "POD_NAME")?.valueFrom?.fieldRef?.fieldPath, "metadata.name");
    const address = env(container, "POD_ADDRESS");
    assert.ok(address, "POD_ADDRESS is set");
    if (address.valueFrom) {
      assert.equal(address.valueFrom.fieldRef?.fieldPath, "status.podIP");
    } else {
      const match = /^\$\(([A-Z_]+)\):8000$/.exec(address.value ?? "");
      assert.ok(match, `POD_ADDRESS is $(VAR):8000, got ${address.value}`);
      const names = (container.env ?? []).map((entry) => entry.name);
      assert.ok(names.indexOf(match[1]!) < names.indexOf("POD_ADDRESS"), `${match[1]} is defined before POD_ADDRESS, or it is not expanded`);
      assert.equal(env(container, match[1]!)?.valueFrom?.fieldRef?.fieldPath, "status.podIP");
    }
    for (const entry of container.env ?? []) {
      assert.ok(!(entry.value !== undefined && entry.valueFrom !== undefined), `${entry.name} has a value or a valueFrom, not both`);
      const from = entry.valueFrom;
      if (from) assert.equal([from.fieldRef, from.secretKeyRef, from.configMapKeyRef, from.resourceFieldRef].filter(Boolean).length, 1, `${entry.name} has one source`);
    }
    // CACHE_DIR and /tmp are writable volumes: the root file system is read-only.
    const cacheDir = env(container, "CACHE_DIR")?.value ?? config(render).CACHE_DIR;
    const mounts = new Set((container.volumeMounts ?? []).filter((mount) => !mount.readOnly).map((mount) => mount.mountPath));
    assert.ok(cacheDir && mounts.has(cacheDir), `CACHE_DIR (${cacheDir}) is a writable mount`);
    assert.ok(mounts.has("/tmp"), "/tmp is a writable mount");

    assert.deepEqual(env(container, "JWT_SECRET")?.valueFrom?.secretKeyRef, { name: "wasm-repl-jwt", key: "secret" });
    assert.deepEqual(env(container, "LLM_API_KEY")?.valueFrom?.secretKeyRef, { name: "llm-secrets", key: "api-key", optional: true }, "the guide's secret llm-secrets, key api-key");

    const settings = config(render);
    const known = readmeVariables();
    assert.ok(known.has("REDIS_URL") && known.has("POD_ADDRESS"), "the README's configuration table was read");
    for (const name of [...Object.keys(settings), ...(container.env ?? []).map((entry) => entry.name)]) {
      assert.ok(known.has(name) || NEW_VARIABLES.includes(name), `${name} is a variable the server reads (README, Configuration)`);
    }
    assert.ok(Number(settings.CHECKPOINT_AFTER) > 0, "CHECKPOINT_AFTER is set");
  });

  test(`${target}: the server accepts the rendered configuration`, () => {
    const render = rendered(target);
    const { container } = server(render);
    const environment: Record<string, string> = { ...config(render) };
    const fake: Record<string, string> = {
      "wasm-repl-jwt/secret": "0".repeat(64),
      "wasm-repl-redis/url": "rediss://:password@redis.example.internal:6380/0",
      "llm-secrets/api-key": "test-key",
      "metadata.name": "wasm-repl-7d9f-x2",
      "status.podIP": "10.0.3.7",
    };
    for (const entry of container.env ?? []) {
      const from = entry.valueFrom;
      const source = from?.secretKeyRef ? `${from.secretKeyRef.name}/${from.secretKeyRef.key}` : from?.fieldRef?.fieldPath;
      const value = source === undefined ? (entry.value ?? "").replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => environment[name] ?? "") : fake[source];
      assert.ok(value !== undefined, `a stand-in value for ${entry.name} (${source})`);
      environment[entry.name] = value;
    }
    const loaded = loadConfig(environment);
    assert.equal(loaded.server.host, "0.0.0.0");
    assert.equal(loaded.server.port, 8000);
    assert.equal(loaded.auth.key.kind, "secret");
    assert.equal(loaded.store.podAddress, "10.0.3.7:8000");
    assert.equal(loaded.store.podName, "wasm-repl-7d9f-x2");
    assert.ok(loaded.store.redisUrl, "every pod shares one Redis");
    assert.equal(loaded.server.maxSessions, Number(config(render).MAX_SESSIONS));
  });

  test(`${target}: Services, the headless Service and the Ingresses`, () => {
    const render = rendered(target);
    const { deployment, container } = server(render);
    const podLabels = deployment.spec!.template.metadata?.labels;
    const main = render.get("v1/Service", "wasm-repl");
    assert.equal(main.spec?.type ?? "ClusterIP", "ClusterIP");
    const port = main.spec?.ports?.[0];
    assert.equal(port?.port, 80);
    assert.equal(containerPort(container, port?.targetPort), 8000, "port 80 -> 8000");
    const headless = render.all("v1/Service").filter((service) => service.spec?.clusterIP === "None");
    assert.equal(headless.length, 1, "one headless Service for pod-to-pod forwarding");
    for (const service of render.all("v1/Service").filter((candidate) => candidate.metadata?.labels?.app === "wasm-repl")) {
      assert.ok(matches(service.spec?.selector, podLabels), `Service ${service.metadata?.name} selects the server's pods`);
    }

    const ingresses = render.all("networking.k8s.io/v1/Ingress");
    const services = new Set(render.all("v1/Service").map((service) => service.metadata?.name));
    for (const ingress of ingresses) {
      const name = ingress.metadata?.name;
      const annotations = ingress.metadata?.annotations ?? {};
      assert.equal(ingress.spec?.ingressClassName, "nginx", `${name}: ingress-nginx`);
      const hosts = ingress.spec?.rules?.map((rule) => rule.host) ?? [];
      const tlsHosts = new Set(ingress.spec?.tls?.flatMap((tls) => tls.hosts ?? []));
      assert.ok(ingress.spec?.tls?.every((tls) => tls.secretName), `${name}: TLS with a secretName`);
      assert.ok(hosts.length > 0 && hosts.every((host) => host && tlsHosts.has(host)), `${name}: every host is served with TLS`);
      for (const timeout of ["proxy-read-timeout", "proxy-send-timeout"]) {
        assert.ok(Number(annotations[`nginx.ingress.kubernetes.io/${timeout}`]) >= 3600, `${name}: ${timeout} of an hour for WebSockets`);
      }
      for (const path of ingress.spec?.rules?.flatMap((rule) => rule.http?.paths ?? []) ?? []) {
        assert.ok(services.has(path.backend.service?.name), `${name}: backend ${path.backend.service?.name} exists`);
      }
    }
    const hashed = ingresses.filter((ingress) => ingress.metadata?.annotations?.["nginx.ingress.kubernetes.io/upstream-hash-by"]);
    assert.equal(hashed.length, 1, "one Ingress hashes on the session");
    const hashing = hashed[0]!;
    assert.equal(hashing.metadata!.annotations!["nginx.ingress.kubernetes.io/upstream-hash-by"], "$uri", "hashes on the path without its query, so ?since=N keeps a reconnect on its pod");
    const paths = hashing.spec!.rules!.flatMap((rule) => rule.http?.paths ?? []);
    assert.ok(paths.length > 0);
    for (const path of paths) {
      const pattern = new RegExp(`^${path.path}$`);
      assert.ok(pattern.test("/v1/sessions/0f8e1c2a"), `${path.path} takes /v1/sessions/{id}`);
      assert.ok(!pattern.test("/v1/sessions") && !pattern.test("/execute"), `${path.path} leaves opening sessions and /execute to round robin`);
    }
    // ingress-nginx keeps one balancing setting per Service and port: the hashed backend is its own.
    const hashedBackends = new Set(paths.map((path) => path.backend.service?.name));
    for (const ingress of ingresses.filter((candidate) => candidate !== hashing)) {
      for (const path of ingress.spec?.rules?.flatMap((rule) => rule.http?.paths ?? []) ?? []) {
        assert.ok(!hashedBackends.has(path.backend.service?.name), `${ingress.metadata?.name} shares no Service with the hashed Ingress`);
      }
    }
  });

  test(`${target}: autoscaler, disruption budget, spread and scraping`, () => {
    const render = rendered(target);
    const { deployment } = server(render);
    const labels = deployment.spec!.template.metadata?.labels;
    const hpa = render.get("autoscaling/v2/HorizontalPodAutoscaler", "wasm-repl");
    assert.deepEqual(hpa.spec?.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "wasm-repl" });
    assert.equal(hpa.spec?.minReplicas, target === "k8s/overlays/prod" ? 3 : 2);
    assert.equal(hpa.spec?.maxReplicas, 10);
    const utilization = Object.fromEntries((hpa.spec?.metrics ?? []).map((metric) => [metric.resource?.name, metric.resource?.target.averageUtilization]));
    assert.deepEqual(utilization, { cpu: 70, memory: 80 });
    if (target === "k8s") assert.equal(deployment.spec?.replicas, 3, "the base runs 3 replicas");

    const budgets = render.all("policy/v1/PodDisruptionBudget").filter((budget) => matches(budget.spec?.selector?.matchLabels, labels));
    assert.equal(budgets.length, 1, "a PodDisruptionBudget covers the server's pods");
    assert.ok(budgets[0]!.spec?.maxUnavailable === 1 || budgets[0]!.spec?.minAvailable !== undefined, "it limits disruption");

    const pod = deployment.spec!.template.spec!;
    const spread = (pod.topologySpreadConstraints ?? []).some((constraint) => constraint.topologyKey === "kubernetes.io/hostname" && matches(constraint.labelSelector?.matchLabels, labels));
    const anti = [...(pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []), ...(pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((term) => term.podAffinityTerm)].some(
      (term) => term.topologyKey === "kubernetes.io/hostname",
    );
    assert.ok(spread || anti, "replicas spread across nodes");

    const annotations = deployment.spec!.template.metadata?.annotations ?? {};
    assert.equal(annotations["prometheus.io/scrape"], "true");
    assert.equal(annotations["prometheus.io/port"], "8000");
    assert.equal(annotations["prometheus.io/path"], "/metrics");
  });

  test(`${target}: the NetworkPolicy lets in ingress-nginx and siblings, and out DNS, Redis and HTTPS`, () => {
    const render = rendered(target);
    const labels = server(render).deployment.spec!.template.metadata?.labels;
    const policies = render.all("networking.k8s.io/v1/NetworkPolicy").filter((policy) => matches(policy.spec?.podSelector.matchLabels, labels));
    assert.equal(policies.length, 1, "one NetworkPolicy selects the server's pods");
    const policy = policies[0]!.spec;
    assert.ok(policy);
    assert.deepEqual([...(policy.policyTypes ?? [])].sort(), ["Egress", "Ingress"]);

    const sources = (policy.ingress ?? []).flatMap((rule) => rule.from ?? []);
    assert.ok((policy.ingress ?? []).every((rule) => (rule.from ?? []).length > 0), "every ingress rule names its sources");
    assert.ok(sources.some((peer) => peer.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === "ingress-nginx"), "from the ingress-nginx namespace");
    assert.ok(sources.some((peer) => !peer.namespaceSelector && matches(peer.podSelector?.matchLabels, labels)), "from sibling pods");
    assert.ok(!sources.some((peer) => peer.ipBlock), "from no address range");

    const egress = policy.egress ?? [];
    const allows = (protocol: string, port: number) => egress.some((rule) => (rule.ports ?? []).some((entry) => (entry.protocol ?? "TCP") === protocol && entry.port === port));
    assert.ok(allows("UDP", 53) && allows("TCP", 53), "DNS over UDP and TCP");
    assert.ok(allows("TCP", 6379), "Redis");
    assert.ok(allows("TCP", 443), "HTTPS for the LLM API");
    for (const rule of egress) {
      assert.ok((rule.ports ?? []).length > 0, "every egress rule names its ports");
      const dns = rule.ports!.some((entry) => entry.port === 53);
      if (dns) assert.ok(rule.to?.every((peer) => peer.podSelector?.matchLabels?.["k8s-app"] === "kube-dns"), "DNS only to kube-dns");
      for (const block of (rule.to ?? []).flatMap((peer) => (peer.ipBlock ? [peer.ipBlock] : []))) {
        if (block.cidr === "0.0.0.0/0") {
          for (const range of PRIVATE_RANGES) assert.ok(block.except?.includes(range), `egress to 0.0.0.0/0 excepts ${range}`);
        }
      }
    }
  });
}

test("dev: its own Redis, with nothing on disk, as the store", () => {
  const render = rendered("k8s/overlays/dev");
  assert.equal(config(render).REDIS_URL, "redis://redis:6379");
  assert.equal(env(server(render).container, "REDIS_URL"), undefined, "no env entry hides the ConfigMap's REDIS_URL");
  const redis = render.get("apps/v1/Deployment", "redis");
  assert.equal(redis.spec?.replicas, 1);
  const container = redis.spec!.template.spec!.containers[0]!;
  assert.equal(container.image, "redis:7-alpine");
  const args = (container.args ?? []).join(" ");
  assert.match(args, /--save  ?--appendonly no/, "no RDB snapshots, no append-only file");
  const service = render.get("v1/Service", "redis");
  assert.ok(matches(service.spec?.selector, redis.spec?.template.metadata?.labels));
  assert.equal(service.spec?.ports?.[0]?.port, 6379);
  assert.equal(server(render).deployment.spec?.replicas, 2, "fewer replicas than the base");
  for (const object of render.objects) {
    if (object.kind !== "Namespace") assert.equal(object.metadata?.namespace, "wasm-repl-dev", `${object.kind}/${object.metadata?.name} is in wasm-repl-dev`);
  }
});

test("prod: an external Redis from a Secret, a pinned image, its own namespace", () => {
  const render = rendered("k8s/overlays/prod");
  assert.deepEqual(env(server(render).container, "REDIS_URL")?.valueFrom?.secretKeyRef, { name: "wasm-repl-redis", key: "url" });
  assert.equal(config(render).REDIS_URL, undefined);
  assert.equal(render.all("apps/v1/Deployment").length, 1, "no Redis of its own");
  const { pod } = server(render);
  for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
    assert.match(container.image ?? "", /^[^:]+\/wasm-repl:(?!latest$)[\w.-]+$/, `${container.name}: a registry image with a pinned tag`);
  }
  for (const object of render.objects) {
    if (object.kind !== "Namespace") assert.equal(object.metadata?.namespace, "wasm-repl", `${object.kind}/${object.metadata?.name} is in wasm-repl`);
  }
  for (const namespace of render.all("v1/Namespace")) {
    assert.equal(namespace.metadata?.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
  }
});

test("the base's init container and server use the same image, so the baked snapshot matches", () => {
  for (const target of TARGETS) {
    const { pod, container } = server(rendered(target));
    for (const init of pod.initContainers ?? []) assert.equal(init.image, container.image, `${target}: ${init.name}`);
  }
});

// Guards against a test that passes for the wrong reason: the checks above must see a bad object.
test("an object the schema refuses, or of a kind without a model, is caught", () => {
  assert.throws(() => validated({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: "three", selector: {}, template: { spec: { containers: [] } } } }), /not a valid object/);
  assert.throws(() => validated({ apiVersion: "v1", kind: "Pod", metadata: { name: "x" } }), /no model for v1\/Pod/);
});

