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

/** The weights a chip's box takes (the sign is the chip's ± button). */
export const CHIP_WEIGHT = { min: 0.1, max: 10 };

/**
 * A weight typed in a chip's box: `{ weight }` within CHIP_WEIGHT (a value past a bound is taken
 * at the bound, `note` says so), or `{ error }` for what is no weight (empty, 0, negative, not a
 * number).
 */
export function chipWeight(typed) {
  const value = typed.trim() === '' ? NaN : Number(typed);
  const range = `from ${CHIP_WEIGHT.min} to ${CHIP_WEIGHT.max}`;
  if (!Number.isFinite(value)) return { error: `“${typed}” is not a weight: type a number ${range}` };
  if (value <= 0) return { error: `a weight is ${range}, not ${typed} (the + / − button subtracts a term)` };
  if (value < CHIP_WEIGHT.min) return { weight: CHIP_WEIGHT.min, note: `${typed} is below the smallest weight: ${CHIP_WEIGHT.min} is used` };
  if (value > CHIP_WEIGHT.max) return { weight: CHIP_WEIGHT.max, note: `${typed} is above the largest weight: ${CHIP_WEIGHT.max} is used` };
  return { weight: value };
}

/**
 * The terms with their weights within CHIP_WEIGHT, as a chip's box takes them (a query typed or
 * linked as `50*water` gets the largest weight, `0*water` leaves the term out), and a note for
 * each weight not taken as written.
 */
export function boundedTerms(terms) {
  const notes = [];
  const kept = [];
  for (const term of terms) {
    const label = term.kind === 'text' ? `“${term.text}”` : term.kind === 'id' ? `#${term.id}` : `image ${term.name}`;
    const read = chipWeight(String(Math.abs(term.weight)));
    if (read.error) notes.push(`${label} left out: its weight is 0.`);
    else {
      if (read.note) notes.push(`Weight of ${label}: ${read.note}.`);
      kept.push({ ...term, weight: Math.sign(term.weight) * read.weight });
    }
  }
  return { terms: kept, notes };
}

/**
 * Renders the terms as chips: the sign toggles, the weight can be typed, ✕ removes.
 * `onChange(terms)` gets the new list; `onNote(text)` hears about a weight not taken as typed.
 */
export function renderChips(container, terms, nameOf, onChange, extra = [], onNote = () => {}) {
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
    weight.min = String(CHIP_WEIGHT.min);
    weight.max = String(CHIP_WEIGHT.max);
    weight.step = '0.1';
    weight.value = String(Math.abs(term.weight));
    weight.className = 'chip-weight';
    weight.setAttribute('aria-label', `Weight of ${label}`);
    weight.addEventListener('change', () => {
      // a number box reports what it cannot read (e.g. "-") as ""; its text is not to be had
      const typed = weight.validity.badInput ? 'that' : weight.value;
      const read = chipWeight(typed);
      if (read.error) {
        // the box shows the weight that stays
        weight.value = String(Math.abs(term.weight));
        onNote(`Weight of ${label} kept at ${Math.abs(term.weight)}: ${read.error}.`);
        return;
      }
      weight.value = String(read.weight);
      if (read.weight !== Math.abs(term.weight)) onChange(terms.map((t, i) => (i === index ? { ...t, weight: Math.sign(t.weight) * read.weight } : t)));
      // after onChange, whose new query renders the chips again (and clears the last note)
      if (read.note) onNote(`Weight of ${label}: ${read.note}.`);
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
