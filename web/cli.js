#!/usr/bin/env node
// cli.js — `npx unseal-wasm …`: the library from a terminal.
//   unseal-wasm layers <model>
//   unseal-wasm run <model> --prompt TEXT | --ids 1,2,3 --save NAME|GLOB ... --out acts.safetensors
//   unseal-wasm logit-lens <model> --prompt TEXT | --ids ...
//   unseal-wasm generate <model> --prompt TEXT | --ids ... [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S]
// <model> is a folder of HF files (config.json, model.safetensors, tokenizer) or a base URL.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HookedModel, UnsealError, logitLens, writeSafetensors } from './index.js';

const HELP = {
  main: `unseal-wasm: mechanistic-interpretability hooks for GPT-2-family models, in WebAssembly.

Usage: unseal-wasm <command> <model> [options]

Commands:
  layers       print the model and every hook point name
  run          run a prompt and save activations to a safetensors file
  logit-lens   show the top token of every layer at every position
  generate     continue a prompt

<model> is a folder with config.json and model.safetensors (and tokenizer files
for text prompts), or a base URL. Run 'unseal-wasm <command> --help' for details.`,
  layers: `Usage: unseal-wasm layers <model>

Prints the model (PyTorch's repr) and every name a hook may use, with the
TransformerLens aliases.`,
  run: `Usage: unseal-wasm run <model> (--prompt TEXT | --ids 1,2,3) --save NAME... --out FILE

Runs the prompt and writes the chosen activations to FILE (safetensors, F32;
readable by Python's safetensors and numpy), with 'input_ids' (I32) and 'logits'.
  --prompt TEXT     text (needs the model's tokenizer files)
  --ids LIST        token ids, comma-separated
  --save PATTERN    a layer name, TransformerLens alias or glob ('transformer->h->*->attn->pattern');
                    repeat for more; default: every activation
  --out FILE        output path (default acts.safetensors)`,
  'logit-lens': `Usage: unseal-wasm logit-lens <model> (--prompt TEXT | --ids LIST) [--json]

For every layer and position: the most likely next token through ln_f and the
unembedding, its probability, and the rank of the true next token.
  --json            print the numbers as JSON instead of a table`,
  generate: `Usage: unseal-wasm generate <model> (--prompt TEXT | --ids LIST) [options]

  --max-new-tokens N   tokens to generate (default 20)
  --temperature T      0 for greedy (default 1)
  --top-k K            sample from the K most likely tokens
  --top-p P            sample from the smallest set with probability >= P
  --seed S             make sampling reproducible`,
};

function fail(message, code = 1) {
  process.stderr.write(`unseal-wasm: ${message}\n`);
  process.exit(code);
}

/** A one-line progress bar on stderr while loading. */
function progressBar(label) {
  let last = -1;
  const tty = process.stderr.isTTY;
  return {
    update({ loaded, total }) {
      const pct = total > 0 ? Math.min(100, Math.floor((100 * loaded) / total)) : 0;
      if (pct === last) return;
      last = pct;
      const width = 30;
      const fill = Math.round((pct / 100) * width);
      const line = `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ${(loaded / 1e6).toFixed(1)} MB`;
      if (tty) process.stderr.write(`\r${line}`);
      else if (pct === 100) process.stderr.write(`${line}\n`);
    },
    done() {
      if (tty && last >= 0) process.stderr.write('\n');
    },
  };
}

async function load(src) {
  const bar = progressBar('loading');
  try {
    return await HookedModel.fromPretrained(src, { onProgress: (p) => bar.update(p) });
  } finally {
    bar.done();
  }
}

function promptInput(model, values) {
  if (values.ids !== undefined) {
    const ids = values.ids.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
    if (!ids.length || ids.some((x) => !Number.isInteger(x))) fail(`--ids must be comma-separated integers, got '${values.ids}'`, 2);
    return ids;
  }
  if (values.prompt !== undefined) return values.prompt;
  fail('give the input with --prompt TEXT or --ids 1,2,3', 2);
}

const tokenText = (model, id) => (model.tokenizer ? JSON.stringify(model.tokenizer.idToToken(id)) : String(id));

async function main(argv) {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP.main);
    return;
  }
  if (!HELP[command] || command === 'main') fail(`unknown command '${command}'. Commands: layers, run, logit-lens, generate (see --help)`, 2);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        prompt: { type: 'string' },
        ids: { type: 'string' },
        save: { type: 'string', multiple: true },
        out: { type: 'string', default: 'acts.safetensors' },
        json: { type: 'boolean' },
        'max-new-tokens': { type: 'string', default: '20' },
        temperature: { type: 'string', default: '1' },
        'top-k': { type: 'string' },
        'top-p': { type: 'string' },
        seed: { type: 'string' },
      },
    });
  } catch (e) {
    fail(`${e.message} (see 'unseal-wasm ${command} --help')`, 2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP[command]);
    return;
  }
  if (positionals.length !== 1) fail(`${command}: give exactly one <model> (a folder or a base URL); see --help`, 2);
  const model = await load(positionals[0]);
  try {
    if (command === 'layers') {
      console.log(String(model));
      console.log('\nHook points (model.layers):');
      for (const [name, m] of model.layers) console.log(`  ${name}  ${m.className ? m.className : String(m)}`);
      console.log('\nTransformerLens aliases:');
      for (const [alias, name] of model.aliases) console.log(`  ${alias} -> ${name}`);
    } else if (command === 'run') {
      const input = promptInput(model, values);
      const { output, cache, bytes } = model.runWithCache(input, { names: values.save });
      const ids = model._backend.toInput(input);
      const entries = [['input_ids', ids], ['logits', output], ...cache];
      writeFileSync(values.out, writeSafetensors(entries, { format: 'pt', producer: 'unseal-wasm' }));
      console.log(`wrote ${cache.size} activations (${(bytes / 1e6).toFixed(2)} MB) and logits to ${values.out}`);
      for (const [name, t] of cache) console.log(`  ${name}  [${t.shape.join(', ')}]`);
    } else if (command === 'logit-lens') {
      const input = promptInput(model, values);
      const lens = logitLens(model, input);
      const [L1, , T] = lens.topIds.shape;
      const ids = model._backend.toInput(input);
      if (values.json) {
        console.log(JSON.stringify({ layers: lens.layers, tokens: Array.from(ids.data), topIds: lens.topIds.toArray(), topProbs: lens.topProbs.toArray(), rank: lens.rank.toArray(), kl: lens.kl.toArray() }));
      } else {
        console.log(`positions: ${Array.from(ids.data.subarray(0, T), (t) => tokenText(model, t)).join(' ')}`);
        for (let l = 0; l < L1; l++) {
          const cells = [];
          for (let t = 0; t < T; t++) cells.push(`${tokenText(model, lens.topIds.get(l, 0, t))} ${lens.topProbs.get(l, 0, t).toFixed(2)}`);
          console.log(`${lens.layers[l].padEnd(20)} ${cells.join(' | ')}`);
        }
      }
    } else if (command === 'generate') {
      const num = (k, f = Number) => (values[k] === undefined ? undefined : f(values[k]));
      const out = model.generate(promptInput(model, values), {
        maxNewTokens: num('max-new-tokens', (x) => parseInt(x, 10)),
        temperature: num('temperature'),
        topK: num('top-k', (x) => parseInt(x, 10)),
        topP: num('top-p'),
        seed: num('seed', (x) => parseInt(x, 10)),
        onToken: model.tokenizer ? ({ text }) => { process.stdout.write(text[0]); } : undefined,
      });
      if (model.tokenizer) process.stdout.write('\n');
      else console.log(out.ids[0].join(','));
    }
  } finally {
    model.dispose();
  }
}

main(process.argv.slice(2)).catch((e) => {
  if (e instanceof UnsealError) fail(`${e.message} [${e.code}]`);
  fail(e.stack ?? String(e));
});

