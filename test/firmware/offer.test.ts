import * as assert from 'node:assert/strict';
import { toHex, utf8 } from '../../lib/encoding/bytes';
import { generateKey, keyToDid, sha256 } from '../../lib/crypto';
import { createManifest, firmwareTopic, isFirmwareRejection, verifyFirmwareOffer, type FirmwareOffer } from '../../lib/firmware';
import { firmwareOffer, Gateway } from '../../lib/gateway';
import { tempDir } from '../support/ledger';

describe('firmware: offers devices pull (vendor manifest + approved decision proof)', () => {
  const gatewayKey = generateKey('Ed25519');
  const vendor = generateKey('Ed25519');
  const device = keyToDid(generateKey('Ed25519'));
  const other = keyToDid(generateKey('Ed25519'));
  const image = utf8('firmware image v5');
  const m = (sequence: number, img = image) => ({ vendor: 'acme', class: 'thermo', version: `1.${sequence}`, sequence, digest: toHex(sha256(img)), size: img.length });
  const tmp = tempDir();
  let gw: Gateway;
  let approved: FirmwareOffer;
  const check = (extra: Record<string, unknown> = {}) => ({ gatewayKey: keyToDid(gatewayKey), device, vendorKeys: [keyToDid(vendor)], ...extra });
  const refused = (reason: string) => (e: unknown) => isFirmwareRejection(e) && e.details.reason === reason;

  before(async () => {
    gw = await Gateway.open(tmp.dir, { name: 'offer.test', gatewayKey, blockRecords: 100, blockSeconds: 0 });
    await gw.enrol({ did: device, name: 'thermo-1' });
    await gw.enrol({ did: other, name: 'thermo-2' });
    const fw = await gw.firmware();
    await fw.trustVendor('acme', keyToDid(vendor));
    await fw.registerRelease(createManifest(m(5), vendor));
    await fw.registerRelease(createManifest(m(6, utf8('other image')), vendor, 'cose'));
    const decision = await fw.checkUpdate({ device, vendor: 'acme', class: 'thermo', sequence: 5 });
    assert.equal(decision.decision, 'approved');
    const offer = await firmwareOffer(gw.ledger, decision.receipt.index);
    assert.ok(offer);
    approved = JSON.parse(JSON.stringify(offer)) as FirmwareOffer;
  });
  after(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it('is accepted by its device: vendor signature, approved decision under a signed checkpoint, newer sequence, image digest', () => {
    assert.equal(firmwareTopic(device), `iot-ledger/firmware/${device}`);
    const ok = verifyFirmwareOffer(approved, check({ installedSequence: 4, image }));
    assert.equal(ok.manifest.sequence, 5);
    assert.equal(ok.signer, keyToDid(vendor));
  });

  it('is refused for another vendor or class than the device says it is (mix-and-match), even when the ledger approved it', () => {
    // The gateway knew no class for the device (no report yet, none given): it approved class thermo.
    assert.equal(verifyFirmwareOffer(approved, check({ vendor: 'acme', class: 'thermo', installedSequence: 4, image })).manifest.sequence, 5);
    assert.throws(() => verifyFirmwareOffer(approved, check({ vendor: 'acme', class: 'hygro', installedSequence: 4, image })), refused('wrong-class'));
    assert.throws(() => verifyFirmwareOffer(approved, check({ vendor: 'other', class: 'thermo', installedSequence: 4, image })), refused('wrong-class'));
  });

  it('is refused once its manifest expired, when the device gives its clock: an old approved offer sent again cannot freeze it', async () => {
    const expires = Date.UTC(2031, 0, 1);
    const img = utf8('firmware image v7');
    const fw = await gw.firmware();
    await fw.registerRelease(createManifest({ ...m(7, img), expires }, vendor), expires - 86_400_000);
    const decision = await fw.checkUpdate({ device, vendor: 'acme', class: 'thermo', sequence: 7 }, undefined, expires - 3_600_000);
    assert.equal(decision.decision, 'approved');
    const offer = JSON.parse(JSON.stringify(await firmwareOffer(gw.ledger, decision.receipt.index))) as FirmwareOffer;
    assert.equal(verifyFirmwareOffer(offer, check({ installedSequence: 5, image: img, now: expires - 1 })).manifest.sequence, 7);
    assert.throws(() => verifyFirmwareOffer(offer, check({ installedSequence: 5, image: img, now: expires })), refused('expired'));
    // Without a clock the device cannot tell, as before.
    assert.equal(verifyFirmwareOffer(offer, check({ installedSequence: 5, image: img })).manifest.sequence, 7);
  });

  it('is refused as a replay when older than the newest decision the device has seen: a superseded approval published again cannot replace the newer one', async () => {
    const fw = await gw.firmware();
    const offerOf = async (sequence: number, img: Uint8Array) => {
      await fw.registerRelease(createManifest(m(sequence, img), vendor));
      const d = await fw.checkUpdate({ device, vendor: 'acme', class: 'thermo', sequence });
      assert.equal(d.decision, 'approved', d.message);
      return { offer: JSON.parse(JSON.stringify(await firmwareOffer(gw.ledger, d.receipt.index))) as FirmwareOffer, index: d.receipt.index };
    };
    const [img10, img11] = [utf8('firmware image v10'), utf8('firmware image v11')];
    const older = await offerOf(10, img10);
    const newer = await offerOf(11, img11);
    // The device saw 11 approved (it could not fetch the image yet): it still runs 5.
    const missing = (() => {
      try {
        verifyFirmwareOffer(newer.offer, check({ installedSequence: 5, image: utf8('not there') }));
      } catch (e) {
        return e;
      }
    })();
    assert.throws(() => verifyFirmwareOffer(older.offer, check({ installedSequence: 5, image: img10, newestDecision: newer.index })), refused('replay'));
    assert.ok(refused('digest-mismatch')(missing));
    assert.equal((missing as { details: { decisionIndex?: number } }).details.decisionIndex, newer.index, 'a refusal after the decision verified names it');
    // The newest decision itself, and an older one to a device that has seen none newer, pass.
    assert.equal(verifyFirmwareOffer(newer.offer, check({ installedSequence: 5, image: img11, newestDecision: newer.index })).decisionIndex, newer.index);
    assert.equal(verifyFirmwareOffer(older.offer, check({ installedSequence: 5, image: img10, newestDecision: older.index })).manifest.sequence, 10);
  });

  it('is refused: by another device, as a rollback, with another image, untrusted vendor, another manifest than approved', async () => {
    assert.throws(() => verifyFirmwareOffer(approved, { ...check(), device: other }), refused('unknown-release'));
    assert.throws(() => verifyFirmwareOffer(approved, check({ installedSequence: 5 })), refused('rollback'));
    assert.throws(() => verifyFirmwareOffer(approved, check({ image: utf8('tampered image!!!') })), refused('digest-mismatch'));
    assert.throws(() => verifyFirmwareOffer(approved, check({ vendorKeys: [keyToDid(generateKey('Ed25519'))] })), refused('unknown-signer'));
    // Release 6 was registered but never approved for this device: its manifest with decision 5's proof.
    const swapped = { ...approved, manifest: Buffer.from(createManifest(m(6, utf8('other image')), vendor, 'cose') as Uint8Array).toString('base64'), manifestFormat: 'cose' };
    assert.throws(() => verifyFirmwareOffer(swapped, check()), refused('unknown-release'));
    // A COSE manifest that is not base64 is a malformed offer (it was an untyped Error).
    for (const manifest of ['!!!', 'AAA', `${swapped.manifest}=`]) assert.throws(() => verifyFirmwareOffer({ ...swapped, manifest }, check()), refused('malformed'));
    // A rejected decision gives no offer at all.
    const fw = await gw.firmware();
    const rejected = await fw.checkUpdate({ device, vendor: 'acme', class: 'thermo', sequence: 99 });
    assert.equal(rejected.decision, 'rejected');
    assert.equal(await firmwareOffer(gw.ledger, rejected.receipt.index), null);
  });
});
