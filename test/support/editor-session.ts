// A Node-RED process with this pack and a Chromium to drive its editor, started before the
// tests of the describe block that calls useEditorSession and stopped after them.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { NodeRedProcess } from '../../demo/nodered/process';
import { createUserDir, linkIntoUserDir } from '../../demo/nodered/userdir';
import { scratchDir } from './e2e';
import { projectRoot } from './paths';

export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Debian's Chromium, headless, quiet on the network; never a browser download. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(
      `Chromium is not installed at ${chromiumPath}: install Debian's chromium (sudo apt-get install chromium, as .ci/run does) ` +
        'or set CHROMIUM_PATH to a Chromium executable. The browser tests never download a browser.',
    );
  }
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface EditorSession {
  nr: NodeRedProcess;
  browser: Browser;
}

/** Registers the before/after hooks; the returned function gives the running session. */
export function useEditorSession(name: string): () => EditorSession {
  let nr: NodeRedProcess | undefined;
  let browser: Browser | undefined;
  before(async () => {
    const userDir = createUserDir(path.join(scratchDir(name), 'nr'));
    linkIntoUserDir(userDir, projectRoot);
    nr = await NodeRedProcess.start({ userDir });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    const exit = await nr?.stop();
    if (exit) assert.equal(exit.code, 0, nr?.output());
  });
  return () => {
    if (!nr || !browser) throw new Error('the editor session is not running');
    return { nr, browser };
  };
}
