// Query terms as the CLI writes them (src/search/cli-terms.ts): `stadium + #12 - "parking lot"`,
// `2*river`. Texts and #ids round-trip through the URL; an image term lives in the page only.

/** Words and quoted phrases; `+` and `-` standing alone are operators. */
function tokens(text) {
  return [...text.matchAll(/(\d+(?:\.\d+)?\*)?"([^"]*)"|(\S+)/g)].map((m) => (m[2] !== undefined ? { word: `${m[1] ?? ''}${m[2]}`, quoted: true } : { word: m[3], quoted: false }));
}

/** Parses the search box: terms separated by + or -, words with no operator between them are one text. */
export function parseTerms(text) {
  const terms = [];
  let sign = 1;
  let words = [];
  const flush = () => {
    if (words.length === 0) return;
    let phrase = words.join(' ');
    let weight = sign;
    const weighted = /^(\d+(?:\.\d+)?)\*(.+)$/.exec(phrase);
    if (weighted) {
      weight *= Number(weighted[1]);
      phrase = weighted[2];
    }
    const id = /^(?:#|id:)(\d+)$/.exec(phrase);
    if (id) terms.push({ kind: 'id', id: Number(id[1]), weight });
    else terms.push({ kind: 'text', text: phrase.replace(/^text:/, ''), weight });
    words = [];
    sign = 1;
  };
  for (const token of tokens(text)) {
    if (!token.quoted && (token.word === '+' || token.word === '-')) {
      flush();
      sign = token.word === '-' ? -1 : 1;
    } else words.push(token.word);
  }
  flush();
  return terms.filter((t) => t.kind === 'id' || t.text.trim() !== '');
}

function termText(term) {
  const magnitude = Math.abs(term.weight);
  const weight = magnitude === 1 ? '' : `${magnitude}*`;
  if (term.kind === 'id') return `${weight}#${term.id}`;
  return `${weight}${/\s|^[-+#]|"/.test(term.text) || weight ? `"${term.text.replace(/"/g, '')}"` : term.text}`;
}

/** The texts and ids of the terms in the CLI's syntax (images are left out: they cannot travel in a URL). */
export function serializeTerms(terms) {
  return terms
    .filter((t) => t.kind !== 'image')
    .map((t, i) => `${i === 0 ? (t.weight < 0 ? '- ' : '') : t.weight < 0 ? ' - ' : ' + '}${termText(t)}`)
    .join('');
}

/** What the status line calls the query. */
export function describeTerms(terms, nameOf) {
  return terms
    .map((t, i) => {
      const what = t.kind === 'text' ? `“${t.text}”` : `images like ${t.kind === 'image' ? t.name : nameOf(t.id)}`;
      const sign = t.weight < 0 ? (i === 0 ? 'not ' : ' − ') : i === 0 ? '' : ' + ';
      return `${sign}${Math.abs(t.weight) === 1 ? '' : `${Math.abs(t.weight)}×`}${what}`;
    })
    .join('');
}

/** The terms as the JSON body of POST /api/search takes them. */
export function termsJson(terms) {
  return terms.map((t) => (t.kind === 'text' ? { text: t.text, weight: t.weight } : t.kind === 'id' ? { id: t.id, weight: t.weight } : { image: t.image, weight: t.weight }));
}

/**
 * Renders the terms as chips: the sign toggles, the weight can be typed, ✕ removes.
 * `onChange(terms)` gets the new list.
 */
export function renderChips(container, terms, nameOf, onChange, extra = []) {
  container.replaceChildren();
  container.hidden = terms.length === 0 && extra.length === 0;
  terms.forEach((term, index) => {
    const chip = document.createElement('span');
    chip.className = `chip ${term.weight < 0 ? 'minus' : 'plus'}`;
    chip.setAttribute('role', 'listitem');
    const label = term.kind === 'text' ? `“${term.text}”` : term.kind === 'image' ? `image ${term.name}` : `like ${nameOf(term.id)}`;
    const sign = document.createElement('button');
    sign.type = 'button';
    sign.className = 'chip-sign';
    sign.textContent = term.weight < 0 ? '−' : '+';
    sign.setAttribute('aria-label', `${term.weight < 0 ? 'Subtracted' : 'Added'}: ${label}. Switch to ${term.weight < 0 ? 'add' : 'subtract'}`);
    sign.addEventListener('click', () => onChange(terms.map((t, i) => (i === index ? { ...t, weight: -t.weight } : t))));
    const text = document.createElement('span');
    text.className = 'chip-label';
    text.textContent = label;
    const weight = document.createElement('input');
    weight.type = 'number';
    weight.min = '0.1';
    weight.max = '10';
    weight.step = '0.1';
    weight.value = String(Math.abs(term.weight));
    weight.className = 'chip-weight';
    weight.setAttribute('aria-label', `Weight of ${label}`);
    weight.addEventListener('change', () => {
      const magnitude = Number(weight.value);
      if (!(magnitude > 0)) return;
      onChange(terms.map((t, i) => (i === index ? { ...t, weight: Math.sign(t.weight) * magnitude } : t)));
    });
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'chip-remove';
    remove.textContent = '✕';
    remove.setAttribute('aria-label', `Remove ${label}`);
    remove.addEventListener('click', () => onChange(terms.filter((_, i) => i !== index)));
    chip.append(sign, text, weight, remove);
    container.append(chip);
  });
  for (const chip of extra) {
    if (chip.getAttribute('role') === 'listitem') container.append(chip);
    else {
      const item = document.createElement('span');
      item.setAttribute('role', 'listitem');
      item.append(chip);
      container.append(item);
    }
  }
}
