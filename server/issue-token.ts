// `npm run token -- --tenant acme --user alice --ttl 1h [--scope sessions:read ...] [--limits '{"max_sessions":3}']`
// Prints a token signed with the configured JWT_SECRET (or the development secret).
import { parseArgs } from "node:util";
import { systemClock } from "./clock.ts";
import { loadConfig } from "./config.ts";
import { SCOPES, type Scope } from "./auth/identity.ts";
import { createAuth } from "./auth/setup.ts";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

function seconds(ttl: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(ttl);
  if (!match) fail(`--ttl ${JSON.stringify(ttl)}: expected a duration like 3600, 30m, 1h or 7d`);
  return Number(match[1]) * UNITS[match[2] || "s"]!;
}

const { values } = parseArgs({
  options: {
    tenant: { type: "string" },
    user: { type: "string" },
    ttl: { type: "string", default: "1h" },
    scope: { type: "string", multiple: true },
    limits: { type: "string" },
  },
});
if (!values.tenant || !values.user) fail("--tenant and --user are required, e.g. npm run token -- --tenant acme --user alice --ttl 1h");
const scopes = (values.scope ?? SCOPES.filter((scope) => scope !== "tenant:admin")) as Scope[];
const unknown = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
if (unknown.length > 0) fail(`unknown scope ${unknown.join(", ")}; the scopes are ${SCOPES.join(", ")}`);
let limits;
try {
  limits = values.limits ? JSON.parse(values.limits) : undefined;
} catch {
  fail(`--limits: expected JSON such as '{"max_sessions": 3}'`);
}

const config = loadConfig();
const { signer } = await createAuth(config.auth, config.cacheDir, systemClock);
if (!signer) fail(`this server verifies tokens with ${config.auth.key.kind === "jwks" ? "JWT_JWKS_URL" : "JWT_PUBLIC_KEY"}: tokens come from your identity provider, not from npm run token`);
process.stdout.write(`${await signer.sign({ user: values.user, tenant: values.tenant, scopes, limits }, seconds(values.ttl), config.auth.tenantClaim)}\n`);
