// smoke.js — see smoke.html. tests/js/browser.test.js runs the same
// computations (smoke_models.js) in Node and compares.
import { kernelName, setThreads, threadsInfo } from '../../web/index.js';
import { bigModel, seedRun } from './smoke_models.js';

try {
  const seed = seedRun();
  // The same bits with all the threads and with 1.
  const big = bigModel();
  const bigAll = big.run();
  const threads = threadsInfo();
  await setThreads(1);
  const bigOne = big.run();
  await setThreads(threads.threads);
  big.dispose();
  window.unsealResult = { ...seed, kernelName, threads, bigAll, bigOne };
  document.getElementById('out').textContent = JSON.stringify(seed.output);
} catch (e) {
  window.unsealResult = { error: `${e.name}: ${e.message}` };
}
