// bench_report.mjs — turns scripts/bench.mjs's measurements into Markdown:
// bench/RESULTS.md (the targets of issue #4 first, then every section's
// tables, the machine and the commands) and the targets table that goes into
// README.md between <!-- bench:begin --> and <!-- bench:end -->.
// Pure formatting: nothing here measures anything.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const MiB = 2 ** 20;
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const pct = (x) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)} %` : '–');
const home = (p) => p.replace(os.homedir(), '~');
const mb = (b) => `${f(b / 1e6, 0)} MB`;
const gb = (b) => `${f(b / 1e9, 2)} GB`;
const rowOf = (g, T) => g?.rows?.find((x) => x.T === T);
const skipped = (why) => `SKIPPED: ${why}`;

/** met / missed / a reason it was not measured. */
const verdict = (ok) => (ok === null || ok === undefined ? 'not measured' : ok ? '**met**' : '**missed**');

/** The issue's targets, each with what this run measured. */
function targets(ctx) {
  const { r } = ctx;
  const out = [];
  const add = (figure, goal, measured, status, where) => out.push({ figure, goal, measured, status, where });

  // Prefill, 1 thread.
  const g3 = r[3];
  const t128 = rowOf(g3, 128);
  if (t128?.ort) {
    const q = t128.ours.med / t128.ort.med;
    add('GPT-2 small prefill T = 128, 1 thread', '≤ 0.6× onnxruntime-web\'s time', `${f(q)}× (${f(t128.ours.med, 0)} vs ${f(t128.ort.med, 0)} ms)`, verdict(q <= 0.6), '§3');
  } else add('GPT-2 small prefill T = 128, 1 thread', '≤ 0.6× onnxruntime-web\'s time', g3?.skip ?? g3?.ortSkip ?? 'section 3 not run', 'not measured', '§3');

  // Prefill, 2 threads.
  const t8 = r[8];
  const t8row = rowOf(t8?.g2, 128);
  const goal2 = `≤ 0.6× onnxruntime-web with ${ctx.settings.THREADS} threads`;
  if (!t8 || t8.skip) add(`GPT-2 small prefill T = 128, ${ctx.settings.THREADS} threads`, goal2, t8?.skip ?? 'section 8 not run', 'not measured', '§8');
  else if (!t8row?.ort) add(`GPT-2 small prefill T = 128, ${ctx.settings.THREADS} threads`, goal2, t8.g2?.skip ?? t8.g2?.ortSkip ?? 'no onnxruntime-web run', 'not measured', '§8');
  else {
    const q = t8row.ours.med / t8row.ort.med;
    if (t8.ours.threads >= 2) add(`GPT-2 small prefill T = 128, ${ctx.settings.THREADS} threads`, goal2, `${f(q)}× (${f(t8row.ours.med, 0)} vs ${f(t8row.ort.med, 0)} ms)`, verdict(q <= 0.6), '§8');
    else add(`GPT-2 small prefill T = 128, ${ctx.settings.THREADS} threads`, goal2, `ours still 1 thread (${t8.ours.note}): ${f(t8row.ours.med, 0)} ms vs ORT's ${f(t8row.ort.med, 0)} ms on ${t8.ortThreads} = ${f(q)}×`, 'not measurable yet', '§8');
  }

  // Other prefill lengths.
  const others = [1, 32, 512].map((T) => rowOf(g3, T)).filter((x) => x?.ort);
  add('prefill T = 1, 32, 512', 'reported', others.length ? others.map((x) => `T = ${x.T}: ${f(x.ours.med / x.ort.med)}×`).join(', ') : (g3?.skip ?? 'not run'), others.length ? 'reported' : 'not measured', '§3');

  // Matmul per thread.
  const l1 = r[1];
  const flop = 2 * ctx.settings.M * ctx.settings.K * ctx.settings.N;
  if (l1 && !l1.skip) {
    const gC = flop / (l1.lin.c.med * 1e6), gP = flop / (l1.lin.ours.med * 1e6);
    let text = `1 thread: ${f(gC, 1)} GFLOP/s (C forward), ${f(gP, 1)} (public forward, with its copies)`;
    let ok = gC >= 40;
    const l8 = t8?.l1;
    if (l8?.lin && t8.ours.threads >= 2) {
      const g2 = flop / (l8.lin.c.med * 1e6);
      text += `; ${t8.ours.threads} threads: ${f(g2, 1)} in all = ${f(g2 / t8.ours.threads, 1)} per thread`;
      ok = ok && g2 / t8.ours.threads >= 40;
    }
    add('f32 matmul [128×768]·[768×3072], per thread', '≥ 40 GFLOP/s', text, verdict(ok), '§1, §8');
  } else add('f32 matmul [128×768]·[768×3072], per thread', '≥ 40 GFLOP/s', l1?.skip ?? 'section 1 not run', 'not measured', '§1');

  // Attention-shaped batched matmuls.
  const a4 = r[4];
  if (a4?.kernels) {
    const k = Object.fromEntries(a4.kernels.map((x) => [x.key, x]));
    const g = (x) => x.flop / (x.med * 1e6);
    // The products asked for, at the rate they are delivered: the dense
    // batched GEMM (packing included), and the causal kernels GPT-2 uses,
    // scored as the dense product they replace (they skip the masked half).
    const dense = (x) => x.denseFlop / (x.med * 1e6);
    const worst = Math.min(g(k.gemm_pack), dense(k.scores), dense(k.pv));
    add('attention-shaped batched matmuls, 12 × [128×64]·[64×128] (and pattern·V)', '≥ 30 GFLOP/s',
      `dense batched GEMM ${f(g(k.gemm_pack), 1)} incl. packing; GPT-2's causal kernels as the dense product they replace: q·kᵀ ${f(dense(k.scores), 0)}, pattern·V ${f(dense(k.pv), 0)} (counting only the flops they compute: ${f(g(k.scores), 1)} / ${f(g(k.pv), 1)})`,
      verdict(worst >= 30), '§4');
  } else add('attention-shaped batched matmuls, 12 × [128×64]·[64×128]', '≥ 30 GFLOP/s', a4?.skip ?? 'section 4 not run', 'not measured', '§4');

  // Decode.
  const d5 = r[5];
  if (d5?.runs?.f32 && d5.bandwidth) {
    const run = d5.runs.f32;
    const tps = 1000 / run.med;
    const bound = (d5.bandwidth.used * 1e9) / run.bytes.weights;
    add('decode with KV cache, f32', '≥ 90 % of weight bytes ÷ memory bandwidth', `${f(tps, 1)} tokens/s = ${f((100 * tps) / bound, 0)} % of ${f(bound, 1)} (${mb(run.bytes.weights)} ÷ ${f(d5.bandwidth.used, 1)} GB/s)`, verdict(tps >= 0.9 * bound), '§5');
  } else add('decode with KV cache, f32', '≥ 90 % of weight bytes ÷ memory bandwidth', d5?.skip ?? d5?.bandwidthSkip ?? 'section 5 not run', 'not measured', '§5');
  if (d5?.runs?.f16 && d5.runs.f32) {
    const q = d5.runs.f32.med / d5.runs.f16.med;
    add('decode with f16-stored weights (`dtype: \'f16\'`)', '≥ 1.7× the f32 tokens/s', `${f(1000 / d5.runs.f16.med, 1)} tokens/s = ${f(q)}× f32 (paired per repeat: ${f(d5.pairedRatio)}×)`, verdict(q >= 1.7), '§5');
  } else add('decode with f16-stored weights', '≥ 1.7× the f32 tokens/s', d5?.skip ?? 'section 5 not run', 'not measured', '§5');

  // Hooks.
  const h6 = r[6];
  if (h6?.cases) {
    const c = Object.fromEntries(h6.cases.map((x) => [x.key, x]));
    add(`${c.noop.label.match(/(\d+) no-op/)?.[1] ?? 100} no-op JS hooks on one GPT-2 forward (T = ${h6.T})`, '≤ 3 % slower than none', `${pct(c.noop.paired)} (A/A noise ${pct(c.aa.paired)})`, verdict(c.noop.paired <= 0.03), '§6');
    add(`runWithCache caching every activation (T = ${h6.T})`, '≤ 15 % slower', `${pct(c.cache.paired)} (${h6.cacheEntries} tensors, ${mb(h6.cacheBytes)})`, verdict(c.cache.paired <= 0.15), '§6');
  } else add('100 no-op JS hooks / runWithCache on a GPT-2 forward', '≤ 3 % / ≤ 15 %', h6?.skip ?? 'section 6 not run', 'not measured', '§6');

  // Loading.
  const l7 = r[7];
  if (l7?.ours?.length) {
    const tff = l7.ours.map((x) => x.load.ms + x.first.ms).sort((a, b) => a - b);
    const med = tff[tff.length >> 1];
    const peaks = l7.ours.map((x) => x.first.peak).sort((a, b) => a - b);
    const peak = peaks[peaks.length >> 1];
    const ratio = peak / l7.weightBytes;
    const ortRatio = l7.ort?.length ? l7.ort[0].first.peak / l7.weightBytes : null;
    add(`load ${mb(l7.weightBytes)} of safetensors from disk: time to first forward`, '≤ 1.5 s', `${f(med / 1000, 2)} s (median of ${tff.length} fresh processes, file in the page cache)`, verdict(med <= 1500), '§7');
    add('… peak RSS over the weights\' bytes', '≤ 1.25×', `${f(ratio, 2)}× (${f(peak / MiB, 0)} MiB peak)${ortRatio ? `; onnxruntime-web ${f(ortRatio, 2)}×` : ''}`, verdict(ratio <= 1.25), '§7');
  } else add('load a 500 MB safetensors: time to first forward, peak RSS', '≤ 1.5 s; ≤ 1.25× weights', l7?.skip ?? 'section 7 not run', 'not measured', '§7');

  // .wasm sizes.
  const w9 = r[9];
  if (w9?.length) {
    const big = Math.max(...w9.map((x) => x.bytes));
    add('`.wasm` size', '≤ 1 MiB per build', w9.map((x) => `${x.name.replace('web/', '')} ${f(x.bytes / 1024, 0)} KiB`).join(', '), verdict(big <= MiB), '§9');
  } else add('`.wasm` size', '≤ 1 MiB per build', 'section 9 not run', 'not measured', '§9');

  // Scale (scripts/scale.mjs, run by hand).
  const sj = ctx.scale && /<!-- scale-json: (.*?) -->/.exec(ctx.scale)?.[1];
  if (sj) {
    const s = JSON.parse(sj);
    for (const m of s.models) {
      add(`scale: ${m.label}`, 'loads and runs a forward with hooks in wasm32\'s 4 GB', m.ok ? `yes: load ${f(m.loadS, 1)} s, forward ${f(m.forwardMs, 0)} ms, wasm memory ${f(m.wasmBytes / 2 ** 30, 2)} GiB` : `no: ${m.error}`, m.ok ? '**met**' : '**missed**', `[SCALE.md](SCALE.md) (${s.date.slice(0, 10)})`);
    }
  } else add('scale: GPT-2 medium f32, GPT-2 XL shape f16', 'loads and runs a forward with hooks in 4 GB', 'not measured yet: run `node scripts/scale.mjs`', 'not measured', 'SCALE.md');
  return out;
}

function targetsTable(rows, linkPrefix = '') {
  const md = ['| figure | goal | measured | status | where |', '|---|---|---|---|---|'];
  for (const x of rows) md.push(`| ${x.figure} | ${x.goal} | ${x.measured} | ${x.status} | ${x.where.replace('SCALE.md)', `${linkPrefix}SCALE.md)`)} |`);
  return md;
}

/** The thread counts in a few words, for README. */
function threadsShort(ctx) {
  const t8 = ctx.r[8];
  const two = !t8 || t8.skip ? `the ${ctx.settings.THREADS}-thread section did not run` : `§8 unseal-wasm ${t8.ours.threads}${t8.ours.threads < 2 ? ' (no setThreads() in this build)' : ''}, onnxruntime-web ${t8.ortThreads ?? '–'}`;
  return `1 each in §1–7 (unseal-wasm: ${ctx.ours.threads}); ${two}`;
}

function threadsLine(ctx) {
  const t8 = ctx.r[8];
  const main = `sections 1–7: unseal-wasm ${ctx.ours.threads} thread${ctx.ours.threads === 1 ? '' : 's'} (${ctx.ours.note}), onnxruntime-web \`numThreads = 1\``;
  if (!t8 || t8.skip) return `${main}; section 8 (${ctx.settings.THREADS} threads) ${t8?.skip ? `skipped: ${t8.skip}` : 'not run'}`;
  return `${main}; section 8: unseal-wasm ${t8.ours.threads} thread${t8.ours.threads === 1 ? '' : 's'} (${t8.ours.note}), onnxruntime-web \`numThreads = ${t8.ortThreads}\``;
}

/** { md: bench/RESULTS.md, readme: the block for README.md } */
export function render(ctx) {
  const { r, mach, settings: S } = ctx;
  const md = [];
  const ortV = ctx.ort.version;
  const la = (a) => a.map((x) => x.toFixed(2)).join(' / ');
  md.push('# unseal-wasm benchmark results', '');
  md.push(`Generated by \`npm run bench\` (scripts/bench.mjs) on ${ctx.started.toISOString()}; overwritten on every full run. Total run time ${f(ctx.totalS, 1)} s. Timings are medians over interleaved runs after warmup; \`ours / ORT\` below 1 means unseal-wasm is faster. The load average (below) says how busy the machine was: on a shared machine every figure is noisier and usually slower.`, '');
  md.push('## Targets (issue #4)', '');
  const tg = targets(ctx);
  md.push(...targetsTable(tg), '');

  md.push('## Machine', '');
  md.push('| machine | |', '|---|---|');
  md.push(`| CPU | ${mach.cpu}${mach.cache ? ` (cache size ${mach.cache})` : ''} |`, `| cores | ${mach.cores} |`, `| memory | ${mach.memory} |`, `| OS | ${mach.os} |`, `| Node | ${mach.node} (V8 ${mach.v8}) |`);
  md.push(`| load average (1/5/15 min) | at start ${la(ctx.loadAvg.start)}; at end ${la(ctx.loadAvg.end)} |`);
  md.push(`| threads | ${threadsLine(ctx)} |`);
  md.push(`| GEMM kernel | \`${ctx.kernelName}\`${r[4]?.attentionKernel ? `; attention: \`${r[4].attentionKernel}\`` : ''} |`);
  md.push(`| onnxruntime-web | ${ortV ? `${ortV}, imported as \`onnxruntime-web\` (resolves to \`${ctx.ort.from}\`), wasm backend with SIMD` : skipped(ctx.ort.skip)} |`);
  md.push(`| sections run (seconds) | ${Object.entries(r.seconds ?? {}).map(([k, v]) => `§${k} ${f(v, 0)}`).join(', ')} |`);
  md.push('');

  // ---- 1
  if (r[1]) {
    md.push(...linearSection(r[1], ctx, { title: `## 1. Linear [${S.M}×${S.K}]·[${S.K}×${S.N}] + bias`, threadsOurs: 1, threadsOrt: 1 }));
    if (r[3] && !r[3].skip) md.push('- Section 3 ran before this one in the same process (for clean RSS readings there), so both wasm memories were already grown and ORT\'s runtime already started: the first forward and the session creation here are quicker than in a fresh process.', '');
  }

  // ---- 2
  if (r[2]) {
    const { mlpCases, tinyCases, points, leaf, w } = r[2];
    const base = mlpCases[0];
    md.push(`## 2. Cost of the hook mechanism: ${S.MLP_BLOCKS} × Sequential(Linear(768, 3072), GELU(), Linear(3072, 768)), input [${S.M}, 768]`, '');
    md.push(`${S.MLP_WARMUP} warmup + ${S.MLP_ROUNDS} rounds; each round runs every case once, in rotating order. Overhead is against the no-hook case; "paired" is the median over rounds of (case / no-hook of the same round − 1). Goal: under 2 % for one hook.`, '');
    md.push('| case | calls into JS per forward | median ms | min ms | overhead (medians) | overhead (mins) | overhead (paired) |', '|---|---|---:|---:|---:|---:|---:|');
    for (const c of mlpCases) {
      const first = c === base;
      md.push(`| ${c.label} | ${c.calls} | ${f(c.med)} | ${f(c.min)} | ${first ? '—' : pct(c.med / base.med - 1)} | ${first ? '—' : pct(c.min / base.min - 1)} | ${first ? '—' : pct(c.paired)} |`);
    }
    md.push('');
    md.push(`The mechanism alone, without the arithmetic: the same ${points}-point tree with Linear(${w}, ${w}) layers and a [1, ${w}] input; ${S.TINY_ROUNDS} rounds of ${S.TINY_BATCH} forwards per case. "Added" is the cost over no hooks, also as a share of the full-size no-hook forward above (${f(base.med)} ms).`, '');
    md.push('| case (tiny tree) | µs per forward | added µs | added, as % of the full-size forward |', '|---|---:|---:|---:|');
    for (const c of tinyCases) {
      const add = c.med - tinyCases[0].med;
      const first = c === tinyCases[0];
      md.push(`| ${c.label} | ${f(c.med, 1)} | ${first ? '—' : f(add, 1)} | ${first ? '—' : `${((100 * add) / (base.med * 1000)).toFixed(3)} %`} |`);
    }
    md.push('');
  }

  // ---- 3
  if (r[3]) md.push(...gpt2Section(r[3], ctx));

  // ---- 4
  if (r[4]) {
    const a = r[4];
    const { H, T, S: Sk, hs } = S.ATT;
    md.push(`## 4. Attention-shaped batched matmuls: ${H} heads, T = S = ${T}, head size ${hs} (GPT-2 small's attention at T = 128)`, '');
    if (a.skip) md.push(skipped(a.skip), '');
    else {
      md.push(`The library's own kernels (src/kernels/attention.h, gemm.h), compiled with the flags of web/unseal.wasm into a bench module (\`scripts/bench_kernels.c\`, built by the bench into build/bench/bench_kernels.wasm; web/unseal.wasm exports no kernel entry points), on GPT-2's layout: q, k, v read in place from a [T, 3C] c_attn output (row stride 3C = ${3 * H * hs}), scores/pattern [H, T, S], z written as [T, H·hs]. Each timing is one wasm call looping over the ${H} heads enough times to last ~25 ms; 15 calls, median and best. "Computed" GFLOP/s counts the multiply-adds a kernel performs (the causal kernels skip keys after the query: ${f(100 * (T + 1) / (2 * Sk), 1)} % of the dense product at T = S); "dense-equivalent" counts the dense product of the same shape (2·T·S·hs per head), the way a dense batched matmul would be scored.`, '');
      md.push(`| kernel | ms for all ${H} heads (median) | min ms | GFLOP/s computed | GFLOP/s dense-equivalent |`, '|---|---:|---:|---:|---:|');
      for (const k of a.kernels) md.push(`| ${k.what} | ${f(k.med, 3)} | ${f(k.min, 3)} | ${k.flop ? f(k.flop / (k.med * 1e6), 1) : '–'} | ${k.denseFlop ? f(k.denseFlop / (k.med * 1e6), 1) : '–'} |`);
      md.push('');
    }
    if (a.ort?.length) {
      md.push(`onnxruntime-web ${ortV} on the same products: one \`MatMul\` node over two graph inputs (written by \`scripts/export_onnx_matmul.py\`), ${S.ORT_MATMUL_WARMUP} warmup + ${S.ORT_MATMUL_REPS} timed \`session.run\` calls; each call also copies both inputs into its wasm memory and the output out (${f((a.ort[0].a.reduce((p, q) => p * q) + a.ort[0].b.reduce((p, q) => p * q) + a.ort[0].a[0] * a.ort[0].a[1] * a.ort[0].b[2]) * 4 / 1024, 0)} KiB for q·kᵀ), which the kernel timings above do not include, and it computes the dense product (no mask).`, '');
      md.push('| onnxruntime-web | median ms | min ms | GFLOP/s (dense) |', '|---|---:|---:|---:|');
      for (const o of a.ort) md.push(`| MatMul [${o.a.join('×')}]·[${o.b.join('×')}] (${o.key === 'qk' ? 'q·kᵀ' : 'pattern·V'}) | ${f(o.med, 3)} | ${f(o.min, 3)} | ${f(o.flop / (o.med * 1e6), 1)} |`);
      md.push('');
    } else if (a.ortSkip) md.push(`- onnxruntime-web comparison SKIPPED: ${a.ortSkip}`, '');
  }

  // ---- 5
  if (r[5]) md.push(...decodeSection(r[5], ctx));

  // ---- 6
  if (r[6]) {
    const h = r[6];
    md.push(`## 6. Hooks on a GPT-2 small forward (T = ${h.T ?? '–'})`, '');
    if (h.skip) md.push(skipped(h.skip), '');
    else {
      const base = h.cases[0];
      md.push(`The model of section 3 on [1, ${h.T}] random ids. ${h.warmup} warmup + ${h.rounds} rounds, each running every case once in rotating order, with a forced GC (untimed) before each run so that one case's garbage is not collected on another's clock. "Paired" is the median over rounds of (case / no-hook run of the same round − 1), the figure the targets use.`, '');
      md.push('| case | median ms | min ms | overhead (medians) | overhead (mins) | overhead (paired) |', '|---|---:|---:|---:|---:|---:|');
      for (const c of h.cases) {
        const first = c === base;
        md.push(`| ${c.label} | ${f(c.med, 1)} | ${f(c.min, 1)} | ${first ? '—' : pct(c.med / base.med - 1)} | ${first ? '—' : pct(c.min / base.min - 1)} | ${first ? '—' : pct(c.paired)} |`);
      }
      md.push('');
      md.push(`- The ${h.picked} no-op hooks sit on every ${f(h.firing / h.picked, 1)}-th of the ${h.firing} points that fire in a forward (\`model.layers\` minus \`transformer->h\`, a ModuleList that never runs), in order, so they spread over all layers and kinds: ${Object.entries(h.kinds).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `\`${k}\` ${v}`).join(', ')}. A no-op hook makes C call into JS once per point it watches (the view tensors are made, nothing is copied); a hook on \`scores\` or \`pattern\` also makes that layer materialise them instead of using the fused attention kernel.`);
      md.push(`- runWithCache with no \`names\` caches every one of those ${h.cacheEntries} points: it clones each activation into a JS-owned Float32Array, ${mb(h.cacheBytes)} per forward at T = ${h.T} (the logits [1, ${h.T}, 50257] alone are ${mb(h.T * 50257 * 4)}), and materialises every layer's scores and pattern.`);
      md.push('');
    }
  }

  // ---- 7
  if (r[7]) md.push(...loadSection(r[7], ctx));

  // ---- 8
  if (r[8]) md.push(...threadsSection(r[8], ctx));

  // ---- 9
  if (r[9]) {
    md.push('## 9. `.wasm` size', '');
    md.push('Every `web/*.wasm` present (release builds by `node scripts/build.mjs wasm`). Goal: at most 1 MiB each.', '');
    md.push('| file | bytes | KiB | gzip -9 KiB | built | ≤ 1 MiB |', '|---|---:|---:|---:|---|---|');
    for (const w of r[9]) md.push(`| \`${w.name}\` | ${w.bytes} | ${f(w.bytes / 1024, 1)} | ${f(w.gzip / 1024, 1)} | ${w.mtime.slice(0, 19)}Z | ${w.bytes <= MiB ? 'yes' : '**no**'} |`);
    md.push('');
  }

  md.push('## Reproduce', '');
  md.push(...commands(), '');
  md.push('Scale (GPT-2 medium in f32 and GPT-2 XL\'s shape in f16, random weights; not part of `npm run bench`): [SCALE.md](SCALE.md).', '');

  // The README block: the targets and where to read more.
  const rd = [];
  rd.push(`Latest full run: ${ctx.started.toISOString().slice(0, 10)}, ${mach.cpu}, ${mach.cores}, Node ${mach.node}, load average ${la(ctx.loadAvg.start)} at start (${la(ctx.loadAvg.end)} at the end); threads: ${threadsShort(ctx)}; onnxruntime-web ${ortV ?? '(skipped)'} (wasm, SIMD) on the same model and weights. Written by \`npm run bench\`; edits between the markers are overwritten.`, '');
  rd.push(...targetsTable(tg, 'bench/').map((l) => l.replace(/\| §([\d, §]+) \|$/, (m, s) => `| [§${s}](bench/RESULTS.md) |`)), '');
  rd.push('Every table, the method and the machine: [bench/RESULTS.md](bench/RESULTS.md); the scale runs: [bench/SCALE.md](bench/SCALE.md). Commands:', '');
  rd.push(...commands());
  return { md: md.join('\n'), readme: rd.join('\n') };
}

function commands() {
  return ['```sh',
    'npm install            # the devDependency onnxruntime-web',
    'apt-get install -y python3-torch python3-onnx   # for the ONNX exports (done by the bench when root)',
    'npm run bench          # builds what is stale, runs sections 1-9 (~5 min), writes bench/RESULTS.md and README.md\'s table',
    'node scripts/bench.mjs --sections=3,5   # some sections only: prints, writes nothing',
    'node scripts/scale.mjs # by hand, not in CI: GPT-2 medium f32 and XL-shaped f16 (writes bench/SCALE.md)',
    '```'];
}

function linearSection(l1, ctx, { title, threadsOurs, threadsOrt, note = '' }) {
  const { settings: S } = ctx;
  const md = [];
  const flop = 2 * S.M * S.K * S.N;
  const gf = (ms) => flop / (ms * 1e6);
  md.push(`${title} (${(flop / 1e9).toFixed(3)} GFLOP = 2·M·K·N per forward)`, '');
  if (l1.skip) return [...md, skipped(l1.skip), ''];
  const { lin } = l1;
  const rows = [
    ['unseal-wasm `HookedModel.forward` (copy in + GEMM + copy out to a JS Tensor)', lin.ours],
    ['unseal-wasm C forward only (`usw_model_forward`, input already in wasm memory)', lin.c],
  ];
  if (lin.ort) rows.push([`onnxruntime-web ${ctx.ort.version} \`session.run\` (wasm, SIMD, ${threadsOrt} thread${threadsOrt === 1 ? '' : 's'}; incl. its copies)`, lin.ort]);
  md.push(`${S.LINEAR_WARMUP} warmup + ${l1.reps} timed runs of each, interleaved; unseal-wasm on ${threadsOurs} thread${threadsOurs === 1 ? '' : 's'}. GFLOP/s from the median (best from the min).${note}`, '');
  md.push('| what | median ms | min ms | GFLOP/s | best GFLOP/s | time / ORT | GFLOP/s / ORT |', '|---|---:|---:|---:|---:|---:|---:|');
  for (const [label, s] of rows) {
    const vs = lin.ort ? [f(s.med / lin.ort.med), f(lin.ort.med / s.med)] : ['–', '–'];
    md.push(`| ${label} | ${f(s.med)} | ${f(s.min)} | ${f(gf(s.med), 1)} | ${f(gf(s.min), 1)} | ${vs[0]} | ${vs[1]} |`);
  }
  md.push(`| JS side of our forward (difference of medians: copies, allocation, checks) | ${f(lin.ours.med - lin.c.med)} | | | | | |`);
  md.push('');
  md.push(`- First forward (packs the Linear's weights once): ${f(l1.firstForward)} ms.`);
  if (Number.isFinite(l1.cVsPublic)) md.push(`- C forward vs public forward output: max abs diff ${l1.cVsPublic.toExponential(2)}.`);
  if (l1.separate) {
    md.push(`- The two engines ran in separate processes (same weights, same input); their outputs were compared in section 1.${l1.createMs !== undefined ? ` ORT session creation (excluded from timings): ${f(l1.createMs, 0)} ms.` : ''}`);
    if (l1.ortSkip) md.push(`- onnxruntime-web SKIPPED: ${l1.ortSkip}`);
  } else if (l1.oursVsOrt !== null) {
    md.push(`- Same weights in both (ours written with \`saveStateDict\`, read by scripts/export_onnx.py): max abs diff ours vs ORT ${l1.oursVsOrt.toExponential(2)} (max |y| ${f(l1.maxY, 3)})${l1.oursVsOrt > 1e-3 ? ' — **LARGER THAN EXPECTED**' : ''}.`);
    md.push(`- ORT session creation (excluded from timings): ${f(l1.createMs, 0)} ms; .onnx ${l1.onnx.cached ? 'from' : 'written to'} the cache \`${home(l1.onnx.path)}\`.`);
  } else md.push(`- onnxruntime-web comparison SKIPPED: ${l1.ortSkip}`);
  md.push('');
  return md;
}

function gpt2Section(g2, ctx) {
  const md = ['## 3. GPT-2 small prefill: `HookedModel.fromPretrained` + `forward` vs onnxruntime-web', ''];
  if (g2.skip) return [...md, skipped(g2.skip), ''];
  const { model, rows, mem, V } = g2;
  const st = model.stamp;
  const cfg = st.config;
  md.push(`GPT-2 small's shape (vocab ${cfg.vocab_size}, n_positions ${cfg.n_positions}, n_embd ${cfg.n_embd}, ${cfg.n_layer} layers, ${cfg.n_head} heads; ${(st.parameters / 1e6).toFixed(1)} M parameters) with random weights (seed ${st.seed}), made by \`${ctx.settings.GPT2_SCRIPT}\` with the PyTorch GPT-2 of \`${ctx.settings.GPT2_REFERENCE}\` and cached in \`${home(model.dir)}\` (key ${st.key}; ${model.cached ? 'from the cache' : `generated in this run, ${f(model.makeS, 0)} s`}): an HF folder (config.json + model.safetensors, F32) for unseal-wasm and \`model.onnx\` (opset ${st.onnx.opset}, torch ${st.torch}) for onnxruntime-web. Both run in this process on the same ids: [1, T] random token ids (fixed seed); \`forward\` returns the logits [1, T, ${V}] as a JS Tensor, \`session.run\` the same as an ORT Tensor (each includes copying the logits out of wasm memory). Each round runs both once, alternating which goes first; the first runs of each T are warmup, excluded. 1 thread each.`, '');
  md.push(...prefillTable(rows));
  md.push('Loading and memory, in the order measured (each engine loads once; a reading follows two forced GCs, so the loaders\' freed file buffers are not counted). RSS is `process.memoryUsage().rss`; peak is `process.resourceUsage().maxRSS` so far; the last column is unseal-wasm\'s wasm linear memory. Section 7 measures loading again, each engine alone in a fresh process.', '');
  md.push('| stage | ms | RSS MiB | RSS added MiB | peak RSS MiB | unseal-wasm memory MiB |', '|---|---:|---:|---:|---:|---:|');
  mem.forEach((s, i) => {
    md.push(`| ${s.label} | ${s.ms === null ? '' : f(s.ms, 0)} | ${f(s.rss / MiB, 0)} | ${i ? f((s.rss - mem[i - 1].rss) / MiB, 0) : ''} | ${f(s.peak / MiB, 0)} | ${f(s.wasm / MiB, 0)} |`);
  });
  md.push('');
  const weightsMiB = (4 * st.parameters) / MiB;
  md.push(`- The weights alone are ${f(weightsMiB, 0)} MiB as f32 (wte counted once). unseal-wasm streams the file straight into the GEMM packs, which are the only copy of the matmul weights (the embedding reads wte's rows from the lm_head pack). Load times are single cold-ish samples (file reads from the page cache included) and vary between runs by a second or more.`);
  const maxLogit = Math.max(...rows.map((x) => x.maxLogit));
  md.push(`- Agreement: max |logit| over the runs ${f(maxLogit, 3)}; against PyTorch's logits for [1, ${g2.checkT}] ids (saved by the generator): unseal-wasm ${g2.oursVsTorch.toExponential(2)}${g2.ortVsTorch !== undefined ? `, onnxruntime-web ${g2.ortVsTorch.toExponential(2)}` : ''}; the generator's own check of the .onnx in onnxruntime-web: ${st.onnx.ort_vs_torch_max_abs_diff === null ? 'not run' : Number(st.onnx.ort_vs_torch_max_abs_diff).toExponential(2)}.`);
  md.push(`- The .onnx is \`torch.onnx.export\` of the reference model unchanged (no wrapper; traced at T = 5, checked at T = 8, T dynamic). Its ops: ${Object.entries(st.onnx.ops).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`).join(', ')}. The tied lm_head became a MatMul against a transposed copy of wte (\`${st.onnx.largest_initializers[1][0]}\` [${st.onnx.largest_initializers[1][1].join(', ')}], 154 MB) beside the Gather's \`${st.onnx.largest_initializers[0][0]}\`: the .onnx holds that matrix twice; unseal-wasm keeps wte once and packs it for the lm_head GEMM at the first forward.`);
  md.push(`- Prefill timings took ${f(g2.timingS, 0)} s${g2.notes.length ? `; ${g2.notes.join(' ')}` : ''}.`);
  if (g2.ortSkip) md.push(`- onnxruntime-web comparison SKIPPED: ${g2.ortSkip}`);
  md.push('');
  return md;
}

function prefillTable(rows) {
  const md = ['| T | runs (warmup + timed) | unseal-wasm median ms | unseal-wasm min ms | ORT median ms | ORT min ms | ours / ORT (medians) | ours / ORT (mins) | unseal-wasm tokens/s | ORT tokens/s | max \\|logit diff\\| ours vs ORT |', '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const x of rows) {
    const o = x.ort;
    md.push(`| ${x.T} | ${x.warm} + ${x.reps} | ${f(x.ours.med, 1)} | ${f(x.ours.min, 1)} | ${o ? f(o.med, 1) : '–'} | ${o ? f(o.min, 1) : '–'} | ${o ? f(x.ours.med / o.med) : '–'} | ${o ? f(x.ours.min / o.min) : '–'} | ${f((1000 * x.T) / x.ours.med, 1)} | ${o ? f((1000 * x.T) / o.med, 1) : '–'} | ${o && Number.isFinite(x.diff) ? `${x.diff.toExponential(2)}${x.diff > 1e-3 ? ' **LARGE**' : ''}` : '–'} |`);
  }
  md.push('');
  return md;
}

function decodeSection(d, ctx) {
  const md = ['## 5. Decode with the KV cache: f32 and f16-stored weights against the memory-bandwidth bound', ''];
  if (d.skip) return [...md, skipped(d.skip), ''];
  const b = d.runs.f32.bytes;
  md.push(`\`model.generate(ids, { maxNewTokens: ${d.steps + 1}, temperature: 0, onToken })\` on the model of section 3 after a ${d.prompt}-token random prompt: step 0 is the prefill, each later step one token through the KV cache (positions ${d.prompt + 1}–${d.prompt + d.steps}); a step's time is the gap between consecutive \`onToken\` calls, so it includes everything a user waits for (the forward, copying the [1, 1, ${b.V}] logits out, the argmax). One warmup call of 8 steps per model, then ${d.repeats} calls per dtype, f32 and f16 alternating; medians over all ${d.repeats * d.steps} steps. f16: the same file loaded with \`HookedModel.fromPretrained(dir, { dtype: 'f16' })\` (matmul weights stored as half, computed in f32; load ${f(d.f16LoadMs, 0)} ms).`, '');
  md.push('**Weights read per token** (what the bound counts): every Linear weight of the 12 blocks (c_attn [768→2304], attn.c_proj, mlp.c_fc, mlp.c_proj: ' + `${f(b.perLayer / 1e6, 3)} M weights per block) and the tied lm_head (wte as [${b.V}, ${b.C}], padded to ${Math.ceil(b.V / 8) * 8} rows as packed), each read once per token: ${f((b.L * b.perLayer + Math.ceil(b.V / 8) * 8 * b.C) / 1e6, 2)} M weights, ${mb(d.runs.f32.bytes.weights)} as f32, ${mb(d.runs.f16?.bytes.weights ?? d.runs.f32.bytes.weights / 2)} as f16. Not counted: biases, LayerNorms and one wpe row (${f(b.small / 1e6, 2)} MB, f32 in both), the embedding row, and the KV cache (f32 K and V of every layer: ${mb(d.kvBytes)} at position ${d.midS}, the middle of the timed steps, growing by ${f((2 * b.L * b.C * 4) / 1e3, 0)} kB per position).`, '');
  if (d.bandwidth) {
    const bw = d.bandwidth;
    md.push(`**Memory bandwidth**, measured in this run inside wasm (build/bench/bench_kernels.wasm): a streaming read of a ${f(bw.bytes / MiB, 0)} MiB buffer (far larger than any cache here) with SIMD128 loads folded by xor into four accumulators, ${bw.passes} passes in ${bw.runs} runs (before and after the decode timings), one thread; and the library's own f32 and f16 GEMV (\`us_gemm_f32\` with M = 1) over an lm_head-shaped pack [${b.V}, ${b.C}], which streams the whole pack from DRAM on every call. The bound uses the higher of the streaming read's median and the f32 GEMV's (the stricter bound): **${f(bw.used, 1)} GB/s**, from ${bw.usedFrom}.`, '');
    md.push('| bandwidth measurement (1 thread) | bytes per pass | median GB/s | best GB/s |', '|---|---:|---:|---:|');
    md.push(`| streaming read (\`bk_stream_read\`) | ${mb(bw.bytes)} | ${f(bw.streamMedian, 1)} | ${f(bw.streamBest, 1)} |`);
    for (const g of d.gemv ?? []) md.push(`| ${g.dtype} GEMV [1×${g.K}]·[${g.K}×${g.N}] (\`us_gemm_f32\`, M = 1), ${f(g.med, 2)} ms | ${mb(g.bytes)} | ${f(g.gbs, 1)} | ${f(g.bestGbs, 1)} |`);
    md.push('');
  } else md.push(`Memory bandwidth not measured: ${d.bandwidthSkip ?? 'no bench module'}; no bound.`, '');
  md.push('| weights | weight bytes per token | median ms per token | min ms | tokens/s | bound: bytes ÷ bandwidth, tokens/s | % of bound | prefill of the prompt, ms |', '|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [dt, run] of Object.entries(d.runs)) {
    const tps = 1000 / run.med;
    const bound = d.bandwidth ? (d.bandwidth.used * 1e9) / run.bytes.weights : NaN;
    md.push(`| ${dt} | ${mb(run.bytes.weights)} | ${f(run.med, 2)} | ${f(run.min, 2)} | ${f(tps, 1)} | ${f(bound, 1)} | ${f((100 * tps) / bound, 0)} % | ${f(run.prefillMed, 1)} |`);
  }
  md.push('');
  if (d.runs.f16) md.push(`- f16 / f32 tokens/s: ${f(d.runs.f32.med / d.runs.f16.med)}× from the medians; ${f(d.pairedRatio)}× as the median of the per-repeat ratios (each repeat's f32 and f16 calls ran back to back). Goal: ≥ 1.7×.`);
  const t1 = rowOf(ctx.r[3], 1);
  md.push(`- onnxruntime-web decode: not measured. The exported .onnx has no past_key_values inputs or outputs, so every ORT "decode" step would recompute the whole prefix: not a fair comparison. For scale: ORT's T = 1 forward (section 3${t1?.ort ? `: ${f(t1.ort.med, 1)} ms median, i.e. at most ${f(1000 / t1.ort.med, 1)} tokens/s` : ''}) streams the same weights as a cached decode step and is a lower bound on its time per token.`);
  md.push('');
  return md;
}

function loadSection(l, ctx) {
  const md = ['## 7. Loading from disk to the first forward, each engine alone in a fresh process', ''];
  if (l.skip) return [...md, skipped(l.skip), ''];
  md.push(`\`node scripts/bench.mjs --child=load-ours\` (${l.ours.length}×) and \`--child=load-ort\` (${l.ort.length}×), one after another: import the engine, then \`HookedModel.fromPretrained(dir)\` + \`forward\` of [1, 1] ids (which packs the GEMM weights), or \`InferenceSession.create(model.onnx)\` + \`session.run\`. In a full run the files were read by section 3 just before, so they come from the page cache: this is load time without disk I/O (a first read from disk adds its time). The weights' bytes: the tensor data of model.safetensors, ${mb(l.weightBytes)} (${f(l.weightBytes / MiB, 0)} MiB; the file is ${mb(l.fileBytes)}). Peak RSS is \`process.resourceUsage().maxRSS\` at the end, for the whole Node process (its own ~${f(l.ours[0].rssAtStart / MiB, 0)} MiB included); "above baseline" subtracts the RSS after importing the engine.`, '');
  md.push('| engine, run | import ms | load ms | first forward ms | **to first forward, s** | RSS after import MiB | RSS at end MiB | peak RSS MiB | **peak / weights** | (peak − baseline) / weights |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const row = (name, x) => md.push(`| ${name} | ${f(x.importMs, 0)} | ${f(x.load.ms, 0)} | ${f(x.first.ms, 0)} | ${f((x.load.ms + x.first.ms) / 1000, 2)} | ${f(x.baseline / MiB, 0)} | ${f(x.first.rss / MiB, 0)} | ${f(x.first.peak / MiB, 0)} | ${f(x.first.peak / l.weightBytes, 2)}× | ${f((x.first.peak - x.baseline) / l.weightBytes, 2)}× |`);
  l.ours.forEach((x, i) => row(`unseal-wasm, ${i + 1}`, x));
  l.ort.forEach((x, i) => row(`onnxruntime-web ${ctx.ort.version}, ${i + 1}`, x));
  md.push('');
  if (l.ortSkip) md.push(`- onnxruntime-web SKIPPED: ${l.ortSkip}`, '');
  md.push('- Goals: ≤ 1.5 s from `fromPretrained` to the first forward\'s result, and peak RSS ≤ 1.25× the weights\' bytes (the targets table uses the median run).', '');
  return md;
}

function threadsSection(t, ctx) {
  const n = ctx.settings.THREADS;
  const md = [`## 8. ${n} threads: sections 1, 3 (and 5) in child processes`, ''];
  if (t.skip) return [...md, skipped(t.skip), ''];
  md.push(`onnxruntime-web's thread count is fixed when its runtime starts (\`ort.env.wasm.numThreads\` before the first session), so this part runs in child processes, one per engine (\`node scripts/bench.mjs --child=threads --threads=${n} --engine=ours\`, then \`--engine=ort\`): alone, neither engine's idle worker threads (which may spin) take cores from the other, at the price of not interleaving their runs. onnxruntime-web: \`numThreads = ${t.ortThreads ?? '–'}\`${t.ortSkip ? ` (${t.ortSkip})` : ''}. unseal-wasm: ${t.ours.note}${t.ours.threads < 2 ? ` — **so every unseal-wasm figure below is single-threaded**, against ORT on ${n} threads` : ''}. The code is that of sections 1 and 3, with fewer runs; "vs 1 thread" compares with this run's sections 1 and 3 (other processes, same machine). Agreement with PyTorch's logits: unseal-wasm ${Number.isFinite(t.g2?.oursVsTorch) ? t.g2.oursVsTorch.toExponential(2) : '–'}, onnxruntime-web ${Number.isFinite(t.g2?.ortVsTorch) ? t.g2.ortVsTorch.toExponential(2) : '–'}.`, '');
  const l1 = t.l1, p1 = ctx.r[1];
  md.push(...linearSection(l1, { ...ctx, settings: { ...ctx.settings, LINEAR_WARMUP: ctx.settings.LINEAR_WARMUP } }, { title: `### Linear, ${n} threads`, threadsOurs: t.ours.threads, threadsOrt: t.ortThreads }));
  if (p1?.lin?.c && l1?.lin?.c) md.push(`- Speed-up over 1 thread (section 1; time at 1 thread ÷ time here): unseal-wasm C forward ${f(p1.lin.c.med / l1.lin.c.med)}×${p1.lin.ort && l1.lin.ort ? `, onnxruntime-web ${f(p1.lin.ort.med / l1.lin.ort.med)}×` : ''}.`, '');
  md.push(`### GPT-2 small prefill, ${n} threads`, '');
  if (t.g2.skip) md.push(skipped(t.g2.skip), '');
  else {
    md.push(...prefillTable(t.g2.rows));
    const speed = t.g2.rows.map((x) => {
      const p = rowOf(ctx.r[3], x.T);
      return p?.ours && x.ours ? `T = ${x.T}: ours ${f(p.ours.med / x.ours.med)}×${p.ort && x.ort ? `, ORT ${f(p.ort.med / x.ort.med)}×` : ''}` : null;
    }).filter(Boolean);
    if (speed.length) md.push(`- Speed-up over 1 thread (section 3; time at 1 thread ÷ time here): ${speed.join('; ')}.`, '');
  }
  if (t.decode && !t.decode.skip) {
    md.push(`### Decode, ${n} threads`, '');
    const bw = t.bandwidth;
    const one = ctx.r[5]?.bandwidth?.used;
    const used = Math.max(bw?.aggregate ?? 0, one ?? 0) || NaN;
    md.push(`Memory bandwidth with ${n} threads (one streaming read per worker thread, each over its own 256 MiB buffer, started together; all bytes over the whole span): ${bw ? `${f(bw.aggregate, 1)} GB/s` : 'not measured'}. The bound uses the higher of that and section 5's single-thread figure${one ? ` (${f(one, 1)} GB/s)` : ''}, since ${n} threads have at least the bandwidth of one: ${f(used, 1)} GB/s.`, '');
    md.push('| weights | median ms per token | tokens/s | bound tokens/s | % of bound | vs 1 thread (section 5) |', '|---|---:|---:|---:|---:|---:|');
    for (const [dt, run] of Object.entries(t.decode.runs)) {
      const tps = 1000 / run.med;
      const bound = (used * 1e9) / run.bytes.weights;
      const single = ctx.r[5]?.runs?.[dt];
      md.push(`| ${dt} | ${f(run.med, 2)} | ${f(tps, 1)} | ${f(bound, 1)} | ${f((100 * tps) / bound, 0)} % | ${single ? `${f(single.med / run.med)}×` : '–'} |`);
    }
    md.push('');
  } else if (t.bandwidth) {
    md.push(`- Memory bandwidth with ${n} threads (for the record): ${f(t.bandwidth.aggregate, 1)} GB/s. Decode at ${n} threads not run: ${t.decode?.skip ?? 'unseal-wasm is single-threaded in this build'}.`, '');
  }
  return md;
}

/** Replaces README's text between the bench markers; false when there are none, null when unchanged. */
export function updateReadme(path, block) {
  const text = readFileSync(path, 'utf8');
  const begin = '<!-- bench:begin -->', end = '<!-- bench:end -->';
  const i = text.indexOf(begin), j = text.indexOf(end);
  if (i < 0 || j < i) return false;
  const next = `${text.slice(0, i + begin.length)}\n${block}\n${text.slice(j)}`;
  if (next === text) return null;
  writeFileSync(path, next);
  return true;
}
