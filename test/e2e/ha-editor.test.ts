import * as assert from 'node:assert/strict';
import { useEditorSession } from '../support/editor-session';
import { until } from '../support/until';

// A Home Assistant config node from an earlier version (its own host, port, TLS and user), opened
// in a real editor: the editor creates the equivalent mqtt-broker node, with the Last Will and
// Close message on the availability topic, and selects it.

interface Result {
  broker: string;
  host: string;
  brokerNode: Record<string, unknown> | null;
  notices: string[];
}

describe('e2e: the Home Assistant config node in the editor', function () {
  this.timeout(120_000);
  const session = useEditorSession('ha-editor');

  it('moves an old flow\'s broker settings into a new mqtt-broker node when the config is opened', async () => {
    // The old flow as the runtime has it, password in its credentials; the runtime refuses it.
    const old = { id: 'oldha', type: 'iot-ledger-ha', name: '', host: 'core-mosquitto', port: 8884, tls: true, username: 'nodered', discoveryPrefix: 'homeassistant', baseTopic: 'gw-2', statusTopic: '' };
    const deployed = await fetch(`${session().nr.url}/flows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify([{ ...old, credentials: { password: 'secret' } }]),
    });
    assert.ok(deployed.ok, await deployed.text());
    const hasPassword = async () => ((await (await fetch(`${session().nr.url}/credentials/iot-ledger-ha/oldha`)).json()) as { has_password?: boolean }).has_password;
    assert.equal(await hasPassword(), true);

    const page = await session().browser.newPage();
    try {
      await page.goto(`${session().nr.url}/`);
      await page.waitForFunction(
        () => {
          const R = (globalThis as unknown as { RED?: { nodes?: { getType(t: string): unknown; node?(id: string): unknown }; workspaces?: { active(): unknown } } }).RED;
          return !!R?.nodes?.getType('iot-ledger-ha') && !!R.nodes.getType('mqtt-broker') && !!R.nodes.node?.('oldha') && !!R.workspaces?.active();
        },
        undefined,
        { timeout: 60_000 },
      );
      await page.evaluate(() => {
        const RED = (globalThis as unknown as { RED: { editor: { editConfig(name: string, type: string, id: string, prefix: string): void } } }).RED;
        RED.editor.editConfig('', 'iot-ledger-ha', 'oldha', 'node-config-input');
      });
      // The broker select shows the new node once the dialog is prepared.
      await page.waitForFunction(() => {
        const el = (globalThis as unknown as { document: { getElementById(id: string): { value?: string } | null } }).document.getElementById('node-config-input-broker');
        return !!el?.value;
      });
      await page.click('#node-config-dialog-ok');
      const result = await page.waitForFunction(() => {
        type N = Record<string, unknown> & { credentials?: Record<string, unknown> };
        const g = globalThis as unknown as { RED: { nodes: { node(id: string): N | null } }; document: { querySelectorAll(s: string): { textContent: string }[] } };
        const ha = g.RED.nodes.node('oldha');
        if (!ha || typeof ha.broker !== 'string' || !ha.broker) return null;
        const b = g.RED.nodes.node(ha.broker);
        const notices = Array.from(g.document.querySelectorAll('.red-ui-notification')).map((e) => e.textContent);
        return {
          broker: ha.broker,
          host: String(ha.host),
          brokerNode: b ? { type: b.type, broker: b.broker, port: b.port, usetls: b.usetls, verifyservercert: b.verifyservercert, willTopic: b.willTopic, willPayload: b.willPayload, willRetain: b.willRetain, closeTopic: b.closeTopic, closePayload: b.closePayload, closeRetain: b.closeRetain, user: b.credentials?.user } : null,
          notices,
        };
      });
      const r = (await result.jsonValue()) as Result;
      assert.deepEqual(r.brokerNode, {
        type: 'mqtt-broker',
        broker: 'core-mosquitto',
        port: '8884',
        usetls: true,
        verifyservercert: true,
        willTopic: 'gw-2/availability',
        willPayload: 'offline',
        willRetain: 'true',
        closeTopic: 'gw-2/availability',
        closePayload: 'offline',
        closeRetain: 'true',
        user: 'nodered',
      });
      assert.equal(r.host, '', 'the old settings are cleared once moved');
      assert.ok(r.notices.some((t) => t.includes('core-mosquitto') && t.includes('MQTT broker node')), r.notices.join('\n'));
      assert.ok(r.notices.some((t) => t.includes('Enter the broker password again')), r.notices.join('\n'));

      // Deployed: the Home Assistant node names the new broker node, and its old password is gone.
      await page.click('#red-ui-header-button-deploy');
      const deployedFlows = async () => (await (await fetch(`${session().nr.url}/flows`)).json()) as Array<Record<string, unknown>>;
      let flows: Array<Record<string, unknown>> = [];
      let password: boolean | undefined;
      await until(
        () => `the deployed node to name the new broker, its password gone (has_password ${String(password)}, flows ${JSON.stringify(flows)})`,
        async () => {
          flows = await deployedFlows();
          password = await hasPassword();
          return flows.find((n) => n.id === 'oldha')?.broker === r.broker && password === false;
        },
        { timeoutMs: 20_000, pollMs: 100 },
      );
      assert.equal(flows.find((n) => n.id === r.broker)?.type, 'mqtt-broker');
    } finally {
      await page.close();
    }
  });
});
