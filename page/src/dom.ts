// How the page makes elements: with a class and text (set as text, never as HTML), buttons that say
// what they do to a screen reader when their face is only a symbol; and how it puts them in order.

export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text?: string): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

export function button(text: string, label: string | null, onClick: () => void, className = ""): HTMLButtonElement {
  const made = element("button", className, text);
  made.type = "button";
  if (label) made.setAttribute("aria-label", label);
  made.addEventListener("click", onClick);
  return made;
}

/**
 * Makes `elements` the children of `container`, in order, moving only those out of place and
 * removing the others: an element left where it is keeps its state (a moved frame would reload).
 */
export function arrange(container: HTMLElement, elements: readonly Element[]): void {
  const wanted = new Set(elements);
  for (const child of [...container.children]) if (!wanted.has(child)) child.remove();
  let next = container.firstElementChild;
  for (const element of elements) {
    if (element === next) next = next.nextElementSibling;
    else container.insertBefore(element, next);
  }
}
