// defaults.js — what the demo opens on. The one place that names the default
// model: scripts/demo.mjs and tests/js/demo.test.js read it from here too.

/** The bundled default model, relative to the page (demo/models/kjv-bytes/ in the repository). */
export const DEFAULT_MODEL = 'models/kjv-bytes/';

/** The example prompt analysed on opening (a byte-level model: every character is a token). */
export const DEFAULT_PROMPT = 'And the LORD spake unto Moses, saying, And the LORD spake unto ';

/** The corrupted prompt of the patching view: same length, one name changed. */
export const DEFAULT_CORRUPTED = 'And the LORD spake unto Aaron, saying, And the LORD spake unto ';
