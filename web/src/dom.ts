// The one way elements are made: attributes set one by one and text through textContent, so run names,
// tags and config values are always shown as text, never parsed as HTML.
export function el(tag: string, attributes: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) {
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

export function clear(element: HTMLElement): void {
  element.replaceChildren();
}
