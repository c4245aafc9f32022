// The browser client's strings in the page's language: Django's names (gettext, ngettext,
// interpolate), so that `manage.py makemessages -d djangojs` finds them, and Django's JSON catalogue
// (/jsi18n/), fetched once before any module that imports this one runs. English needs no
// catalogue: the msgids are the English. A catalogue that cannot be had leaves the page in English.
export const language = document.documentElement.lang || "en";

async function load() {
  if (language === "en") return {};
  try {
    const answer = await fetch("/jsi18n/", { headers: { Accept: "application/json" } });
    if (!answer.ok) return {};
    const { catalog } = await answer.json();
    return catalog || {};
  } catch {
    return {};
  }
}

const catalogue = await load();

// English and German both say one thing for 1 and another for every other number. The catalogue
// carries its plural formula as JavaScript source, which only eval or new Function could run, and
// the CSP forbids both: a language with other plural rules needs its rule written here.
function pluralIndex(count) {
  return count === 1 ? 0 : 1;
}

export function gettext(msgid) {
  const found = catalogue[msgid];
  if (typeof found === "string" && found) return found;
  if (Array.isArray(found) && found[0]) return found[0];
  return msgid;
}

export function ngettext(singular, plural, count) {
  const found = catalogue[singular];
  const index = pluralIndex(count);
  if (Array.isArray(found) && found[index]) return found[index];
  return index === 0 ? singular : plural;
}

// Named placeholders only ("%(name)s" with an object): a translation may put them in any order.
export function interpolate(format, values) {
  return format.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
