// The notebook page (page/ in this repository), made for browsers: bundled by esbuild at start-up
// into the cache directory when it holds no bundle of the current sources, then held in memory and
// served as it is (http/page-endpoint.ts). The bundle's directory is named by a hash of what it is
// made of, so a changed source, a new package version or a new esbuild makes a new one, and an
// unchanged tree starts without building. Nothing built is ever committed.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build, version as esbuildVersion } from "esbuild";
import type { Logger } from "../log.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const PAGE_DIR = join(REPO, "page");
/** What the bundle is made of besides page/: the wire types it imports, and the locked versions of the packages it bundles. */
const SHARED_SOURCES = ["protocol/frames.ts", "package-lock.json"].map((path) => join(REPO, path));
/** Copied as they are: the page's shell, whose asset URLs name the version, and the document output frames load. */
const STATIC_FILES = ["index.html", "frame.html"];
/** How index.html names the directory of its assets, replaced by /page/<version>/. */
const VERSION_PLACEHOLDER = "/page/@version/";
/** A bundle's directory in the cache: page-<version>. */
const BUNDLE_DIR = /^page-[0-9a-f]{16}$/;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

export interface PageAsset {
  body: Buffer;
  contentType: string;
}

export interface PageBundle {
  /** The hash of the sources: assets live under /page/<version>/, so a browser may keep them for good. */
  version: string;
  /** The page's shell (GET /), its asset URLs filled in. */
  index: PageAsset;
  /** By file name: main.js, style.css, frame.html. */
  assets: ReadonlyMap<string, PageAsset>;
}

/** The bundle of the current sources, built into `cacheDir` first when it is not there. */
export async function loadPage(cacheDir: string, log: Logger): Promise<PageBundle> {
  const version = await pageVersion();
  const dir = join(cacheDir, `page-${version}`);
  const built = await readBundle(dir, version).catch(() => null);
  if (built) return built;
  const started = performance.now();
  const bundle = await buildBundle(dir, version);
  log.info("page_built", { dir, duration_ms: Math.round(performance.now() - started) });
  await removeOlderBundles(cacheDir, version);
  return bundle;
}

/** Bundles of other versions: a server holds the bundle it serves in memory, so none is still read. */
async function removeOlderBundles(cacheDir: string, version: string): Promise<void> {
  const older = (await readdir(cacheDir)).filter((name) => BUNDLE_DIR.test(name) && name !== `page-${version}`);
  await Promise.all(older.map((name) => rm(join(cacheDir, name), { recursive: true, force: true })));
}

/** A hash of every file the bundle is made of, and of the bundler. */
export async function pageVersion(): Promise<string> {
  const hash = createHash("sha256").update(esbuildVersion);
  for (const path of [...(await filesUnder(PAGE_DIR)), ...SHARED_SOURCES]) {
    hash.update(relative(REPO, path).split(sep).join("/")).update("\0").update(await readFile(path)).update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)])));
  return nested.flat().sort();
}

/**
 * Builds into a directory of its own, reads it, then renames it into place: another server starting
 * from the same cache at the same time builds the same bytes, and whichever rename comes second is
 * dropped (one of another version may remove this one as soon as it is in place: it is read already).
 */
async function buildBundle(dir: string, version: string): Promise<PageBundle> {
  const building = `${dir}.${randomBytes(6).toString("hex")}.tmp`;
  await mkdir(building, { recursive: true });
  try {
    await build({
      entryPoints: { main: join(PAGE_DIR, "src", "main.ts"), style: join(PAGE_DIR, "style.css") },
      outdir: building,
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      tsconfig: join(PAGE_DIR, "tsconfig.json"),
      logLevel: "silent",
    });
    for (const name of STATIC_FILES) {
      const text = await readFile(join(PAGE_DIR, name), "utf8");
      await writeFile(join(building, name), text.replaceAll(VERSION_PLACEHOLDER, `/page/${version}/`));
    }
    const bundle = await readBundle(building, version);
    await rename(building, dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
    });
    return bundle;
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}

async function readBundle(dir: string, version: string): Promise<PageBundle> {
  const assets = new Map<string, PageAsset>();
  for (const name of await readdir(dir)) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType) assets.set(name, { body: await readFile(join(dir, name)), contentType });
  }
  const index = assets.get("index.html");
  if (!index || !assets.has("main.js") || !assets.has("style.css") || !assets.has("frame.html")) throw new Error(`the page bundle in ${dir} is incomplete`);
  assets.delete("index.html");
  return { version, index, assets };
}
