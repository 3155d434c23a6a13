// prepare-lists.mjs rebuilds the name and place lists embedded by
// internal/privacy/deid from npm packages used as a source of DATA only
// (no code from them is shipped). Run from the repository root:
//
//	tmp=$(mktemp -d) && (cd $tmp && npm pack @faker-js/faker@10.6.0 \
//	    @etalab/decoupage-administratif@6.0.0 @cspell/dict-people-names@1.1.16 \
//	    an-array-of-french-words@2.0.0 \
//	    && for f in *.tgz; do mkdir ${f%.tgz} && tar xzf $f -C ${f%.tgz}; done)
//	node bench/deid/prepare-lists.mjs $tmp internal/privacy/deid/data
//
// Output: prenoms.txt, noms.txt, noms-divers.txt, communes.tsv, voies.txt,
// mots.txt.gz (French common words, one a line, gzip).
// Curated lists (prenoms-fr.txt, noms-fr.txt, hopitaux.txt, ...) are
// written by hand and merged by the Go loader, not by this script.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const [src, dst] = process.argv.slice(2);
if (!src || !dst) {
  console.error('usage: node prepare-lists.mjs NPM_DIR OUT_DIR');
  process.exit(2);
}
const pkg = (name) => {
  const d = fs.readdirSync(src).find((x) => x.startsWith(name) && !x.endsWith('.tgz'));
  if (!d) throw new Error('missing package ' + name);
  return path.join(src, d, 'package');
};
const latin = /^[A-Za-zÀ-ÖØ-öø-ÿĀ-ž' -]+$/;
const clean = (s) => s.normalize('NFC').trim();
const ok = (s) => s.length >= 2 && s.length <= 30 && latin.test(s) && /^[A-ZÀ-ÖØ-ÞĀ-Ž]/.test(s);

// Faker locales whose person names are in Latin script and common in France.
const fakerLocales = ['fr', 'fr_BE', 'fr_CH', 'fr_SN', 'de', 'es', 'it', 'pt_PT', 'pl', 'ro', 'tr', 'nl'];
const first = new Map(); // name -> set of F/M
const last = new Set();
for (const loc of fakerLocales) {
  const m = await import(path.join(pkg('faker-js-faker'), 'dist/locale', loc + '.js'));
  const p = m.faker.rawDefinitions.person;
  for (const [sex, list] of Object.entries(p.first_name || {})) {
    for (const raw of list) {
      const n = clean(raw);
      if (!ok(n)) continue;
      const tag = sex === 'female' ? 'F' : sex === 'male' ? 'M' : 'X';
      if (!first.has(n)) first.set(n, new Set());
      first.get(n).add(tag);
    }
  }
  for (const list of Object.values(p.last_name || {})) {
    for (const raw of list) {
      const n = clean(raw);
      if (ok(n)) last.add(n.replace(/^Da silva$/, 'Da Silva'));
    }
  }
}
const sexOf = (s) => (s.has('F') && s.has('M') ? 'X' : s.has('F') ? 'F' : s.has('M') ? 'M' : 'X');
fs.writeFileSync(path.join(dst, 'prenoms.txt'),
  [...first.entries()].sort(([a], [b]) => a.localeCompare(b, 'fr')).map(([n, s]) => n + '\t' + sexOf(s)).join('\n') + '\n');
fs.writeFileSync(path.join(dst, 'noms.txt'), [...last].sort((a, b) => a.localeCompare(b, 'fr')).join('\n') + '\n');

// Generic person names (first or last, many cultures).
const cs = fs.readFileSync(path.join(pkg('cspell-dict-people-names'), 'dict/people-names.txt'), 'utf8')
  .split('\n').map(clean).filter((x) => x && !x.startsWith('#') && ok(x));
fs.writeFileSync(path.join(dst, 'noms-divers.txt'), [...new Set(cs)].sort().join('\n') + '\n');

// Communes: current communes with postal codes and population.
const communes = JSON.parse(fs.readFileSync(path.join(pkg('etalab-decoupage-administratif'), 'data/communes.json'), 'utf8'))
  .filter((c) => c.type === 'commune-actuelle' && c.codesPostaux && c.codesPostaux.length);
const rows = communes.map((c) => [clean(c.nom), c.codesPostaux.join(','), c.population || 0, c.departement].join('\t'));
fs.writeFileSync(path.join(dst, 'communes.tsv'), '# nom\tcodes postaux\tpopulation\tdepartement\n' + rows.join('\n') + '\n');

// Street names (the part after the street type).
const fr = (await import(path.join(pkg('faker-js-faker'), 'dist/locale/fr.js'))).faker.rawDefinitions.location;
const voies = new Set((fr.street_suffix || []).map(clean));
fs.writeFileSync(path.join(dst, 'voies.txt'), [...voies].sort().join('\n') + '\n');
// French common words (inflected forms), lower case, single tokens.
const mots = JSON.parse(fs.readFileSync(path.join(pkg('an-array-of-french-words'), 'index.json'), 'utf8'))
  .map(clean).filter((w) => w.length >= 2 && !/[ '’]/.test(w));
fs.writeFileSync(path.join(dst, 'mots.txt.gz'), zlib.gzipSync([...new Set(mots)].sort().join('\n') + '\n', { level: 9 }));
console.error(`mots ${mots.length}`);
console.error(`prenoms ${first.size}, noms ${last.size}, noms-divers ${cs.length}, communes ${rows.length}, voies ${voies.size}`);
