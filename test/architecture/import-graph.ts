// The project's own import graph, read from source: which file imports which, and the groups of
// files that import each other round in a circle. Type-only and dynamic imports count too: each is
// a file a reader (and the type checker) must follow, and a cycle of them is a design knot even
// where it costs nothing at run time.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, join, posix, relative, sep } from "node:path";
import ts from "typescript";

/** Each file (a path relative to the repository, with `/`) and the files it imports, in source order. */
export type ImportGraph = Map<string, string[]>;

const SOURCE_FILE = /\.(?:ts|mts|cts|js|mjs|cjs)$/;

/** The relative imports of every source file under `folders`; package imports are not edges. */
export function importGraph(root: string, folders: string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of folders.flatMap((folder) => sourceFiles(join(root, folder)))) {
    const imports = ts
      .preProcessFile(readFileSync(file, "utf8"), true, true)
      .importedFiles.map((imported) => imported.fileName)
      .filter((specifier) => specifier.startsWith("./") || specifier.startsWith("../"))
      .map((specifier) => repoPath(root, resolveImport(file, specifier)));
    graph.set(repoPath(root, file), [...new Set(imports)]);
  }
  return graph;
}

/** Each npm package that source files under `folders` import (`ws`, `@scope/name`; not Node's own modules), with the files that do. */
export function packageImports(root: string, folders: string[]): Map<string, string[]> {
  const packages = new Map<string, string[]>();
  for (const file of folders.flatMap((folder) => sourceFiles(join(root, folder)))) {
    for (const { fileName: specifier } of ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles) {
      if (specifier.startsWith(".") || isBuiltin(specifier)) continue;
      const name = specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
      const files = packages.get(name) ?? [];
      if (!files.includes(repoPath(root, file))) files.push(repoPath(root, file));
      packages.set(name, files);
    }
  }
  return packages;
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : sourceFiles(path);
    return SOURCE_FILE.test(entry.name) ? [path] : [];
  });
}

/** The file an import names; a `.js` specifier may stand for the `.ts` file beside it. */
function resolveImport(importer: string, specifier: string): string {
  const target = join(dirname(importer), specifier);
  if (!existsSync(target) && target.endsWith(".js") && existsSync(target.replace(/\.js$/, ".ts"))) return target.replace(/\.js$/, ".ts");
  return existsSync(target) && statSync(target).isDirectory() ? join(target, "index.ts") : target;
}

function repoPath(root: string, path: string): string {
  return relative(root, path).split(sep).join(posix.sep);
}

/**
 * The strongly connected components that are cycles: two or more files that reach each other, or
 * one file that imports itself (Tarjan's algorithm). Each is sorted, and so is the list.
 */
export function importCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, index.size);
    lowLink.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const imported of graph.get(file) ?? []) {
      if (!index.has(imported)) {
        visit(imported);
        lowLink.set(file, Math.min(lowLink.get(file)!, lowLink.get(imported)!));
      } else if (onStack.has(imported)) {
        lowLink.set(file, Math.min(lowLink.get(file)!, index.get(imported)!));
      }
    }
    if (lowLink.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || graph.get(file)?.includes(file)) components.push(component.sort());
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file);
  return components.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** One shortest way round a cycle, from its first file back to it: `a -> b -> a`. */
export function cyclePath(graph: ImportGraph, component: string[]): string {
  const start = component[0]!;
  const members = new Set(component);
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let at = queue.shift(); at !== undefined; at = queue.shift()) {
    for (const imported of graph.get(at) ?? []) {
      if (imported === start) {
        const between: string[] = [];
        for (let step = at; step !== start; step = cameFrom.get(step)!) between.unshift(step);
        return [start, ...between, start].join(" -> ");
      }
      if (members.has(imported) && !cameFrom.has(imported)) {
        cameFrom.set(imported, at);
        queue.push(imported);
      }
    }
  }
  throw new Error(`${component.join(", ")} is not a cycle`);
}

/**
 * The graph between the parts of the server: each folder under server/ is one node (its files'
 * imports of one another dropped), each file at server/'s top level one node, each other
 * top-level folder one node. A cycle here is two layers that depend on each other.
 */
export function partGraph(graph: ImportGraph): ImportGraph {
  const part = (file: string) => {
    const [top, second, third] = file.split("/");
    return top === "server" && third !== undefined ? `${top}/${second}/` : top === "server" ? file : `${top}/`;
  };
  const parts: ImportGraph = new Map();
  for (const [file, imports] of graph) {
    const from = part(file);
    const edges = parts.get(from) ?? [];
    for (const to of imports.map(part)) if (to !== from && !edges.includes(to)) edges.push(to);
    parts.set(from, edges);
  }
  return parts;
}
