// main.js — the demo's entry point: the state (app.js) and the page (views/).
import { html, render } from './ui.js';
import { createApp } from './app.js';
import { App } from './views/app-view.js';
import './style.css';

const app = createApp();
const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} app=${app} />`, root);
app.actions.start();
