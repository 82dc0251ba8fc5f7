// A PAM session, through bun:ffi and the system's libpam: what login and su do
// before they start a shell. With pam_systemd in the service's session stack,
// opening it registers a logind session (and starts user@UID); closing it ends
// that session. Nothing here asks the user anything: the caller is root.
import { writeSync } from "node:fs";
import { CString, dlopen, FFIType, JSCallback, type Pointer, read, toArrayBuffer } from "bun:ffi";
import { cstr } from "../../src/libc.ts";

// From <security/_pam_types.h>.
const PAM_SUCCESS = 0;
/** pam_acct_mgmt: the account is fine, but its password must be changed. */
const PAM_NEW_AUTHTOK_REQD = 12;
const PAM_TTY = 3;
const PAM_CONV_ERR = 19;
const PAM_ESTABLISH_CRED = 0x2;
const PAM_DELETE_CRED = 0x4;
const PAM_ERROR_MSG = 3;
const PAM_TEXT_INFO = 4;

const SYMBOLS = {
  pam_start: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  pam_set_item: { args: [FFIType.ptr, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  pam_acct_mgmt: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  pam_setcred: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  pam_open_session: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  pam_close_session: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  pam_getenvlist: { args: [FFIType.ptr], returns: FFIType.ptr },
  pam_strerror: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.ptr },
  pam_end: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
} as const;

type Pam = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

/** A PAM call that did not succeed: which call, libpam's own words for why, and its code. */
export class PamError extends Error {
  override name = "PamError";
  constructor(
    readonly call: string,
    readonly reason: string,
    readonly code: number | null = null,
  ) {
    super(`${call}: ${reason}`);
  }
}

/**
 * The conversation function PAM modules talk through. Notices and errors go to
 * stderr (written synchronously: Bun's process.stderr would make the shared
 * descriptor non-blocking under the shell); a question (a password prompt)
 * cannot be answered here, so the module is told the conversation failed.
 */
function makeConversation(): JSCallback {
  return new JSCallback(
    (count: number, messages: Pointer, responses: Pointer, _appdata: Pointer) => {
      try {
        // No replies: modules that read *responses after the call find NULL.
        if (Number(responses) !== 0) new BigUint64Array(toArrayBuffer(responses, 0, 8))[0] = 0n;
        for (let i = 0; i < count; i++) {
          const message = read.ptr(messages, i * 8) as Pointer;
          const style = read.i32(message, 0);
          const text = read.ptr(message, 8) as Pointer;
          if (style !== PAM_ERROR_MSG && style !== PAM_TEXT_INFO) return PAM_CONV_ERR;
          if (Number(text) !== 0) writeSync(2, `${new CString(text).toString()}\n`);
        }
        return PAM_SUCCESS;
      } catch {
        return PAM_CONV_ERR; // nothing may be thrown back into C
      }
    },
    { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  );
}

export interface PamSession {
  /** A notice for the user that did not stop the session (a password that must be changed). */
  readonly notice: string | null;
  /** The variables the session's modules set (XDG_RUNTIME_DIR, XDG_SESSION_ID, …), as KEY=VALUE. */
  readonly environment: Record<string, string>;
  /** Close the session and free the handle; failures are returned, not thrown (the shell has ended by then). */
  close(): string | null;
  /** Free the handle without telling the modules the session closed (no D-Bus call): logind ends it with its last process. */
  abandon(): null;
}

/**
 * Open `service`'s session for `user`, as root. `library` is libpam's file
 * (NixOS: the store path the module writes) or a soname for the loader to find.
 */
export function openPamSession(library: string, service: string, user: string, tty: string | null): PamSession {
  let pam: Pam;
  try {
    pam = dlopen(library, SYMBOLS).symbols;
  } catch (error) {
    throw new PamError(`loading ${library}`, (error as Error).message);
  }
  const conversation = makeConversation();
  const conv = Buffer.alloc(16);
  conv.writeBigUInt64LE(BigInt(conversation.ptr!), 0);
  const handleOut = new BigUint64Array(1);
  const started = pam.pam_start(cstr(service), cstr(user), conv, handleOut);
  const handle = Number(handleOut[0]) as Pointer;
  if (started !== PAM_SUCCESS || Number(handle) === 0) {
    conversation.close();
    throw new PamError(`pam_start(${service})`, `error ${started}`);
  }
  const reason = (code: number) => {
    const text = pam.pam_strerror(handle, code);
    return text === null ? `error ${code}` : new CString(text).toString();
  };
  let credentials = false;
  const end = (code: number) => {
    if (credentials) pam.pam_setcred(handle, PAM_DELETE_CRED);
    pam.pam_end(handle, code);
    conversation.close();
  };
  const step = (call: string, code: number) => {
    if (code === PAM_SUCCESS) return;
    const why = reason(code); // before pam_end frees the handle
    end(code);
    throw new PamError(call, why, code);
  };

  // The terminal lets logind call it a tty session; without one (pipes) it is "unspecified".
  if (tty !== null) step("pam_set_item(PAM_TTY)", pam.pam_set_item(handle, PAM_TTY, cstr(tty)));
  // As login and su, but with nobody to ask for a new password: a password that must change is only told.
  const account = pam.pam_acct_mgmt(handle, 0);
  const notice = account === PAM_NEW_AUTHTOK_REQD ? `${user}'s password has expired and must be changed (passwd)` : null;
  if (account !== PAM_NEW_AUTHTOK_REQD) step("pam_acct_mgmt", account);
  step("pam_setcred", pam.pam_setcred(handle, PAM_ESTABLISH_CRED));
  credentials = true;
  step("pam_open_session", pam.pam_open_session(handle, 0));

  let environment: Record<string, string>;
  try {
    environment = readEnvironment(pam, handle);
  } catch (error) {
    pam.pam_close_session(handle, 0);
    end(PAM_SUCCESS);
    throw new PamError("pam_getenvlist", (error as Error).message);
  }
  return {
    notice,
    environment,
    close() {
      const closed = pam.pam_close_session(handle, 0);
      const problem = closed === PAM_SUCCESS ? null : reason(closed);
      end(closed);
      return problem;
    },
    abandon() {
      end(PAM_SUCCESS);
      return null;
    },
  };
}

/** pam_getenvlist: a NULL-terminated array of "KEY=VALUE" strings. */
function readEnvironment(pam: Pam, handle: Pointer): Record<string, string> {
  const environment: Record<string, string> = {};
  const list = pam.pam_getenvlist(handle);
  if (list === null) return environment;
  for (let i = 0; ; i++) {
    const entry = read.ptr(list, i * 8) as Pointer;
    if (Number(entry) === 0) break;
    const text = new CString(entry).toString();
    const equals = text.indexOf("=");
    if (equals > 0) environment[text.slice(0, equals)] = text.slice(equals + 1);
  }
  return environment;
}
