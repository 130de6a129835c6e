// The files of this notebook's session (its interpreter's working directory): their paths and
// sizes, each with a button that downloads it.
import type { FileEntry } from "./api.ts";
import { button, element } from "./dom.ts";
import { bytes } from "./outputs.ts";

export function renderFiles(list: HTMLElement, files: readonly FileEntry[] | null, download: (path: string) => void): void {
  if (files === null || files.length === 0) {
    list.replaceChildren(element("li", "empty", files === null ? "Run a cell or upload a file to open a session." : "No files: upload one, or write one from Python."));
    return;
  }
  list.replaceChildren(
    ...files.map((file) => {
      const item = element("li");
      item.dataset.path = file.path;
      item.append(element("code", "", file.path), element("span", "details", bytes(file.size)), button("Download", `Download ${file.path}`, () => download(file.path)));
      return item;
    }),
  );
}
