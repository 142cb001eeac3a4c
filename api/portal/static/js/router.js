// Hash routing: "#/documents", "#/records/<id>". Ids may appear, PHI never does.
// A page is a module exporting {title, path, roles?, render(main, params)}.

const pages = [];

export function register(page) {
  pages.push(page);
}

export function go(path) {
  if (location.hash === `#${path}`) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = path;
}

export function match(hash) {
  const path = hash.replace(/^#/, "") || "/";
  for (const page of pages) {
    const names = [];
    const pattern = new RegExp(
      `^${page.path.replace(/:([a-z]+)/g, (_, name) => {
        names.push(name);
        return "([^/]+)";
      })}$`,
    );
    const found = path.match(pattern);
    if (found) {
      const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1])]));
      return { page, params };
    }
  }
  return null;
}
