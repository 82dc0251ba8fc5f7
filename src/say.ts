// Messages to the person at the terminal: on stderr, prefixed with the
// program's name, written synchronously (the process may exit or exec right
// after) and never failing (after a hangup the terminal may be gone).
import { writeSync } from "node:fs";

export function sayAs(program: string): (message: string) => void {
  return (message) => {
    try {
      writeSync(2, `${program}: ${message}\n`);
    } catch {
      // nobody to tell
    }
  };
}
