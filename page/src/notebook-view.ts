// The notebook's cells on the page, in order. Drawing a notebook keeps the views of cells still in
// it (their editors, and output frames that would reload if made again) and makes the others.
import { CellView, type CellActions } from "./cell-view.ts";
import type { Cell, Notebook } from "./notebook.ts";

export class NotebookView {
  private readonly views = new Map<string, CellView>();

  constructor(
    private readonly container: HTMLElement,
    private readonly actions: CellActions,
  ) {}

  render(notebook: Notebook): void {
    const wanted = new Set(notebook.cells.map((cell) => cell.id));
    for (const [id, view] of this.views) {
      if (!wanted.has(id) || !notebook.cells.includes(view.cell)) {
        view.element.remove();
        this.views.delete(id);
      }
    }
    let next = this.container.firstElementChild;
    for (const cell of notebook.cells) {
      let view = this.views.get(cell.id);
      if (!view) {
        view = new CellView(cell, this.actions);
        this.views.set(cell.id, view);
      }
      if (view.element === next) next = next.nextElementSibling;
      else this.container.insertBefore(view.element, next);
    }
  }

  update(cell: Cell): void {
    this.views.get(cell.id)?.update();
  }

  focus(cell: Cell): void {
    this.views.get(cell.id)?.focus();
  }
}
