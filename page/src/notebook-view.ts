// The notebook's cells on the page, in order. Drawing a notebook keeps the views of cells still in
// it (their editors, and output frames that would reload if made again) and makes the others.
import { CellView, type CellActions } from "./cell-view.ts";
import { arrange } from "./dom.ts";
import type { Cell, Notebook } from "./notebook.ts";

export class NotebookView {
  private readonly views = new Map<string, CellView>();

  constructor(
    private readonly container: HTMLElement,
    private readonly actions: CellActions,
  ) {}

  render(notebook: Notebook): void {
    for (const [id, view] of this.views) {
      if (!notebook.cells.includes(view.cell)) this.views.delete(id);
    }
    arrange(
      this.container,
      notebook.cells.map((cell) => {
        let view = this.views.get(cell.id);
        if (!view) {
          view = new CellView(cell, this.actions);
          this.views.set(cell.id, view);
        }
        return view.element;
      }),
    );
  }

  update(cell: Cell): void {
    this.views.get(cell.id)?.update();
  }

  focus(cell: Cell): void {
    this.views.get(cell.id)?.focus();
  }
}
