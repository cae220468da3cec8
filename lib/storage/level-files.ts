// What a LevelDB directory received from elsewhere (audited, or read by a reading command) must
// not hold before LevelDB opens it: LevelDB reads its files whole or by offset, and on open it
// writes new ones (a table from the log, a log, a MANIFEST) under numbers the MANIFEST chooses.
import * as fs from 'node:fs';
import { LedgerError } from '../errors';
import { irregularFiles, readRegular } from './regular-file';

/** What LevelDB writes in CURRENT: the name of the directory's MANIFEST file and a newline. */
const CURRENT_TEXT = /^MANIFEST-\d{1,20}\n$/;

/** Names in `dir` that are symbolic links. */
function symbolicLinks(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isSymbolicLink())
    .map((e) => e.name);
}

const listed = (names: string[]): string => `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'}`;

/**
 * ERR_LEDGER_CORRUPT, naming the files, when `dir` holds a FIFO or a device (LevelDB would block
 * on it for good, or read /dev/zero without end), a CURRENT that names anything but a MANIFEST file
 * of the directory (a path out of it, to such a file, say), or a symbolic link: LevelDB creates its new files
 * with O_TRUNC and follows a link, so one named like the next file would have it overwrite, or
 * create, a file anywhere the link points. `what` says what could not be done ("audit DIR").
 */
export function refuseForeignFiles(dir: string, what: string): void {
  const irregular = irregularFiles(dir);
  if (irregular.length > 0)
    throw new LedgerError('ERR_LEDGER_CORRUPT', `cannot ${what}: ${listed(irregular)} not a regular file (a FIFO or a device) in a LevelDB directory`, { dir, files: irregular });
  const links = symbolicLinks(dir);
  if (links.length > 0)
    throw new LedgerError(
      'ERR_LEDGER_CORRUPT',
      `cannot ${what}: ${listed(links)} a symbolic link in a LevelDB directory (LevelDB would write through it, outside the ledger, as it opens); read a copy made without links (cp -rL)`,
      { dir, files: links },
    );
  // LevelDB opens `dir/` + whatever CURRENT names: `../../dev/zero` or a FIFO elsewhere would have it read without end.
  if (!CURRENT_TEXT.test(readRegular(`${dir}/CURRENT`, 64).toString('latin1')))
    throw new LedgerError('ERR_LEDGER_CORRUPT', `cannot ${what}: CURRENT does not name a MANIFEST file of the directory (MANIFEST-NNNNNN)`, { dir, files: ['CURRENT'] });
}
