// shards.js — see shards.html.
import { HookedModel } from '../../web/index.js';

const bases = JSON.parse(new URLSearchParams(location.search).get('bases') ?? '[]');
const results = [];
for (const base of bases) {
  try {
    const m = await HookedModel.fromPretrained(base);
    const logits = m.forward([[1, 2, 3]]);
    results.push({ base, shape: [...logits.shape] });
    m.dispose();
  } catch (e) {
    results.push({ base, code: e.code ?? e.name, message: e.message });
  }
}
window.unsealResult = results;
document.getElementById('out').textContent = JSON.stringify(results, null, 1);
