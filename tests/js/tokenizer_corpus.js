// tokenizer_corpus.js — the strings the GPT-2 tokenizer is compared with
// js-tiktoken on: hand-picked edge cases, text in many scripts, emoji
// sequences, white-space runs, contractions, numbers, code, random Unicode,
// random valid UTF-8, random printable ASCII, random "soups" of fragments
// chosen to hit every transition of GPT-2's pre-tokenizer pattern, the
// repository's own files cut into pieces, and a few long runs. Deterministic
// for a given seed (and the repository's files). Used by
// tests/js/tokenizer.test.js; meant to be reused against the JS API.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** mulberry32: a small seeded generator of floats in [0, 1). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Edge cases of the pattern 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
const edgeCases = [
  '', ' ', '  ', '   ', '\n', '\n\n', '\t', '\r\n', ' \n', '\n ', 'a', 'A', '!', "'", '0',
  'Hello world', 'Hello, world!', 'hello   world', 'hello\tworld', 'hello \tworld', 'hello\t world',
  'trailing space ', 'trailing spaces   ', 'trailing newline\n', 'two newlines\n\n', ' leading', '   leading3',
  "don't", "DON'T", "I'LL", "I'll", "you're", "we've", "I'm", "he'd", "it's", "It'S", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
  "''s", "'''", "'s'", "rock 'n' roll", "o'clock", "'tis", "y'all'd've", "'S", "’s", "don’t", " 's", "!'s", "1's", "a'b'c",
  "'\u00e9", "'\u00c9t\u00e9",
  '<|endoftext|>', 'a<|endoftext|>b', '<|endoftext|> <|endoftext|>', '<|endoftext', '<|im_start|>user',
  '1', '12', '123', '1234', '12345', '3.14159', '1,000,000', '-42', '+7', '1e10', '0x1F', '2024-01-15', '12:30:45',
  '\u00bc', '\u00bd\u00be', '\u2153', '\u2160\u2161\u2162 \u216b', '\u00b2\u00b3\u00b9', 'x\u00b2+y\u00b2', 'H\u2082O', '\u2460\u2461\u2462',
  '\u0663\u0664\u0665', '\u0967\u0968', '\uff11\uff12\uff13', '\ud835\udfd8\ud835\udfd9', '\u3007', '\u4e00\u4e8c\u4e09', '\u5341',
  '\u00a0', 'a\u00a0b', 'a \u00a0b', 'a\u00a0 b', '\u3000', '\u4e2d\u3000\u6587', '\u2028', '\u2029', '\ufeffBOM', 'x\ufeff',
  '\u0085', 'a\u0085b', '\u180e', '\u200b', 'zero\u200bwidth', '\u2003em\u2003space', '\u202f', '\u205f', '\u1680',
  '\u000b', '\u000c', '\u001c\u001d\u001e\u001f', 'a\u000bb', '\u0000', 'nul\u0000byte', '\u007f', '\u0080\u009f',
  'caf\u00e9', 'cafe\u0301', 'e\u0301\u0301\u0301', '\u0301', ' \u0301', 'n\u0303', 'a\u0308o\u0308u\u0308',
  '\u00c5ngstr\u00f6m', 'na\u00efve r\u00e9sum\u00e9', 'stra\u00dfe', '\u0130stanbul', '\u01c5', '\u1e9e',
  '\ud83d\ude00', '\ud83d\ude00\ud83d\ude00', ' \ud83d\ude00', 'a\ud83d\ude00b', '\ud83d\udc4d\ud83c\udffd',
  '\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66', '\ud83c\uddef\ud83c\uddf5', '\ud83c\uddfa\ud83c\uddf8\ud83c\uddec\ud83c\udde7',
  '\ud83c\udff4\udb40\udc67\udb40\udc62\udb40\udc65\udb40\udc6e\udb40\udc67\udb40\udc7f', '1\ufe0f\u20e3', '\u2764\ufe0f', '\u263a', '\u2603\ufe0e',
  '\ud83e\uddd1\ud83c\udffe\u200d\ud83d\udcbb', '\ud83d\udc41\u200d\ud83d\udde8', ' \ud83c\uddef\ud83c\uddf5 ',
  '\ue000', '\udb80\udc00', '\u0378', '\u{10ffff}', '\u{e0001}', '\u{1f9ff}', '\u{20000}\u{2a6d6}', '\u{1d49c}\u{1d4b7}',
  'a\tb\tc', 'col1\tcol2\n1\t2\n', '    indented', '\tindented', '\t\tdouble', 'line1\r\nline2\r\n', 'x \n y', 'x\n\n\ny',
  'ends with space and newline \n', ' \t \n \r ', 'a \u3000 b', 'a\u3000\u3000 b', '. . .', '...', '?!', '!!! !!!',
  '@user #tag $100 %20 ^_^ &amp; *bold* (paren) [bracket] {brace} <tag> |pipe| \\back /slash ~tilde `tick`',
  'https://example.com/path?q=1&r=2#frag', 'user@example.com', 'C:\\Windows\\System32', '~/.bashrc',
];

const sentences = [
  'The quick brown fox jumps over the lazy dog.',
  'Pack my box with five dozen liquor jugs!',
  '\u4e2d\u6587\u6d4b\u8bd5\uff1a\u4f60\u597d\uff0c\u4e16\u754c\uff01\u8fd9\u662f\u4e00\u4e2a\u53e5\u5b50\u3002',
  '\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3002',
  '\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4. \uc548\ub155\ud558\uc138\uc694!',
  '\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645! \u0647\u0630\u0627 \u0646\u0635 \u0639\u0631\u0628\u064a \u0661\u0662\u0663.',
  '\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd, \u05d6\u05d4 \u05d8\u05e7\u05e1\u05d8 \u05d1\u05e2\u05d1\u05e8\u05d9\u05ea.',
  'English \u202bmixed \u05e2\u05d1\u05e8\u05d9\u05ea\u202c and \u200fRTL\u200e marks',
  '\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e! \u0939\u093f\u0928\u094d\u0926\u0940 \u092a\u093e\u0920 \u0967\u0968\u0969\u0964',
  '\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01 \u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22',
  '\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u042d\u0442\u043e \u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442.',
  '\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5! \u03b1\u03b2\u03b3 \u0394\u03b4',
  '\u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0 \u0540\u0561\u0575\u0565\u0580\u0565\u0576',
  '\u1200\u1208\u1218 \u12a0\u121b\u122d\u129b \u1369\u136a\u136b',
  'Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u: \u0111\u01b0\u1eddng ph\u1ed1 H\u00e0 N\u1ed9i',
  'Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034da\u0357\u0363 zalgo text',
  '\u1f00\u1f10\u1f20 polytonic, \u0f00\u0f01 Tibetan, \u1780\u1781 Khmer, \u0b95\u0bbe Tamil',
  'Math: \u2200x\u2208\u211d, \u2203y: x\u00b2 + y\u00b2 \u2264 1 \u21d2 |x| \u2264 1; \u222b\u2080\u00b9 f(x) dx \u2248 \u03c0/4',
  'Prices: $19.99, \u20ac20, \u00a315, \u00a51000, \u20b9500, \u20bf0.001',
  'Emoji: I \u2764\ufe0f \ud83c\udf55! \ud83d\udc68\u200d\ud83d\udcbb codes; \ud83c\uddeb\ud83c\uddf7 \ud83c\udde9\ud83c\uddea flags; \ud83d\udc4b\ud83c\udffb\ud83d\udc4b\ud83c\udfff skin tones',
  'function f(x) {\n  return x * 2; // double\n}\n',
  'def main():\n    print("hello")\n    return 0\n\nif __name__ == "__main__":\n    main()\n',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }',
  'SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;',
  '<div class="x">Hello &nbsp; <b>world</b></div>',
  '{"key": [1, 2.5, "three", null, true], "nested": {"a": {}}}',
  '    for (int i = 0; i < n; ++i) {\n        sum += a[i];\n    }\n',
  'x = [i**2 for i in range(10) if i % 2 == 0]  # squares',
  'git commit -m "Fix bug #123" && git push origin main',
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.',
];

// Fragments of each class, for the random soups.
const pools = {
  letter: ['a', 'Z', 'the', 'don', 'I', 'LL', 's', 't', 're', '\u00e9', '\u00df', '\u0416\u0436', '\u03bb', '\u4e2d\u6587',
    '\u30a2', '\ud55c', '\u0639', '\u05e9', '\u0905', '\u0e01', '\ud835\udc9c', '\u01c5', '\u02b0', '\u3005', 'hello', 'ing'],
  number: ['0', '7', '42', '2024', '\u00bc', '\u216b', '\u00b2', '\u0663', '\u2460', '\ud835\udfd8', '\u3007', '\u00bd', '\u096f', '\uff15', '\u2070'],
  other: ['!', '.', ',', "'", '"', '-', '_', '(', ')', '\u20ac', '\u00a9', '\ud83d\ude00', '\ud83d\udc4d\ud83c\udffd', '\ud83c\uddef\ud83c\uddf5',
    '\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67', '\u200d', '\u0301', '\u200b', '\u0085', '\u00ad', '\ufe0f', '\u0000', '\u001f',
    '\ue000', '\u0378', '\u{10ffff}', '<|endoftext|>', '//', '->', '...', '\u2019', '\u00bf', '\u2022', '\u3002', '\uff01'],
  space: [' ', ' ', ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', '\r', '\u00a0', '\u3000', '\u2028', '\u2029', '\ufeff', '\u000b',
    '\u000c', '\u1680', '\u2003', '\u202f', '\u205f', ' \t', '\t '],
  contraction: ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'", "''", "\u2019s", " '"],
};
const poolNames = Object.keys(pools);

/** Code points from all over Unicode (assigned or not), never surrogates. */
function randomCodePoint(r) {
  const x = r();
  if (x < 0.2) return 0x20 + Math.floor(r() * 0x5f);
  if (x < 0.3) return 0x80 + Math.floor(r() * 0x580);
  if (x < 0.65) {
    const cp = 0x600 + Math.floor(r() * (0xfffe - 0x600));
    return cp >= 0xd800 && cp <= 0xdfff ? cp - 0x800 : cp;
  }
  if (x < 0.75) return [0x20, 0xa0, 0x3000, 0x2028, 0x9, 0xa, 0x85, 0x200b, 0xfeff][Math.floor(r() * 9)];
  if (x < 0.9) return 0x1f000 + Math.floor(r() * 0x1000); // emoji and symbols
  return 0x10000 + Math.floor(r() * 0x100000);
}

/** A random byte sequence that is valid UTF-8, decoded (tries until one is). */
function randomUtf8(r, fatal) {
  for (;;) {
    const bytes = [];
    const n = 1 + Math.floor(r() * 16);
    for (let i = 0; i < n; i++) {
      const x = r();
      if (x < 0.5) bytes.push(Math.floor(r() * 0x80));
      else {
        const lead = 0xc2 + Math.floor(r() * (0xf4 - 0xc2 + 1));
        const need = lead < 0xe0 ? 1 : lead < 0xf0 ? 2 : 3;
        bytes.push(lead);
        for (let k = 0; k < need; k++) bytes.push(0x80 + Math.floor(r() * 0x40));
      }
    }
    try {
      return fatal.decode(new Uint8Array(bytes));
    } catch {
      // an overlong form, a surrogate or a code point above U+10FFFF: retry
    }
  }
}

/** Text files of the repository, as [path, text] (sorted, deterministic). */
function repositoryTexts() {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const rel = relative(root, p);
      if (/^(node_modules|build|\.git|web\/unseal\.wasm|demo\/dist|demo\/models)/.test(rel) || name.startsWith('.')) continue;
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (/\.(md|c|h|js|mjs|py|txt|html|cmake)$|CMakeLists\.txt$/.test(name) && st.size < 400_000 &&
        !name.startsWith('unicode_tables')) out.push([rel, readFileSync(p, 'utf8')]);
    }
  };
  for (const d of ['README.md', 'CMakeLists.txt', 'include', 'src', 'scripts', 'tests/js', 'tests/c', 'tests/golden', 'web', 'demo']) {
    try {
      const p = join(root, d);
      if (statSync(p).isDirectory()) walk(p);
      else out.push([d, readFileSync(p, 'utf8')]);
    } catch {
      // a folder this checkout does not have
    }
  }
  return out;
}

/**
 * The corpus: an array of strings (about 9000 with the default size).
 * `size` scales the random parts; `seed` picks them.
 */
export function tokenizerCorpus({ seed = 0x5eed, size = 1 } = {}) {
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const count = (n) => Math.round(n * size);
  const out = [...edgeCases, ...sentences];

  // Each sentence with changed spacing and casing.
  for (const s of sentences) {
    out.push(s.toUpperCase(), ` ${s}`, `${s} `, s.replace(/ /g, '  '), s.replace(/ /g, '\t'), s.replace(/ /g, '\n'),
      s.replace(/ /g, '\u00a0'), s.replace(/ /g, ' \n'));
  }

  // Soups of fragments: every class next to every other, in random orders.
  for (let i = 0; i < count(3000); i++) {
    const n = 1 + Math.floor(r() * 24);
    let s = '';
    for (let k = 0; k < n; k++) s += pick(pools[pick(poolNames)]);
    out.push(s);
  }
  // White space runs between words, at the start and at the end.
  for (let i = 0; i < count(600); i++) {
    let s = '';
    const n = 1 + Math.floor(r() * 8);
    for (let k = 0; k < n; k++) {
      if (r() < 0.5) s += pick(pools.letter);
      const m = 1 + Math.floor(r() * 5);
      for (let j = 0; j < m; j++) s += pick(pools.space);
      if (r() < 0.3) s += pick(r() < 0.5 ? pools.number : pools.other);
    }
    out.push(s);
  }
  // Numbers alone and in text.
  for (let i = 0; i < count(300); i++) {
    const n = 1 + Math.floor(r() * 6);
    let s = '';
    for (let k = 0; k < n; k++) s += (r() < 0.5 ? String(Math.floor(r() * 10 ** (1 + Math.floor(r() * 12)))) : pick(pools.number)) + pick(['', ' ', '.', ',', 'x', ' and ', '%']);
    out.push(s);
  }
  // Random code points.
  for (let i = 0; i < count(1500); i++) {
    const n = 1 + Math.floor(r() * 30);
    let s = '';
    for (let k = 0; k < n; k++) s += String.fromCodePoint(randomCodePoint(r));
    out.push(s);
  }
  // Random valid UTF-8 byte strings.
  const fatal = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < count(800); i++) out.push(randomUtf8(r, fatal));
  // Random printable ASCII.
  for (let i = 0; i < count(800); i++) {
    const n = 1 + Math.floor(r() * 60);
    let s = '';
    for (let k = 0; k < n; k++) s += String.fromCharCode(0x20 + Math.floor(r() * 0x5f));
    out.push(s);
  }
  // The repository's files: whole lines and arbitrary cuts (code points kept whole).
  const files = repositoryTexts();
  for (let i = 0; i < count(1500) && files.length; i++) {
    const text = pick(files)[1];
    if (r() < 0.5) {
      const lines = text.split('\n');
      const a = Math.floor(r() * lines.length);
      out.push(lines.slice(a, a + 1 + Math.floor(r() * 8)).join('\n'));
    } else {
      const cps = Array.from(text);
      const a = Math.floor(r() * cps.length);
      out.push(cps.slice(a, a + 1 + Math.floor(r() * 400)).join(''));
    }
  }
  // Long runs of one character or unit (js-tiktoken's merge is quadratic, so
  // these stay around a thousand characters).
  for (const unit of ['a', ' ', '!', '\u00e9', '\ud83d\ude00', '1', '\n', 'ab ', '\u4e2d', ' \t', "'s", '\u00a0']) {
    out.push(unit.repeat(Math.ceil(1000 / unit.length)));
  }
  out.push(files.map(([, t]) => t).join('\n').slice(0, 20000));
  // Lone surrogates: not valid Unicode; TextEncoder turns each into U+FFFD.
  out.push('\ud800', 'a\udc00b', '\ud83d', 'x \udfff y', '\ud800\ud800');
  return out;
}
