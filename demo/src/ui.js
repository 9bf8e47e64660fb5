// ui.js — the demo's one UI dependency: Preact (a 4 kB React) with htm, which
// gives JSX-like templates as tagged strings, so there is no compile step and
// nothing is evaluated at run time (the strict CSP holds).
import { h, render } from 'preact';
import htm from 'htm';

export { render };
export { useEffect, useMemo, useRef, useState, useCallback } from 'preact/hooks';
export const html = htm.bind(h);
