import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import { BaseError } from '../errors.ts'
import {
  createApiClient,
  readSession,
  removeSession,
  resolveApiUrl,
  saveSession,
  sessionFile,
} from './api-client.ts'

export class LoginError extends BaseError {
  override name = 'LoginError'
}

/** Reads a password from the terminal without echoing it. */
export async function promptPassword(prompt: string): Promise<string> {
  const stdin = process.stdin
  if (!stdin.isTTY) {
    throw new LoginError('no terminal to ask for the password on', {
      metaMessages: ['pass --password-file <file>'],
    })
  }
  process.stderr.write(prompt)
  stdin.setRawMode(true)
  stdin.setEncoding('utf8')
  stdin.resume()
  return new Promise<string>((resolve, reject) => {
    let chars: string[] = []
    const finish = (err?: Error) => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
      if (err) reject(err)
      else resolve(chars.join(''))
    }
    function onData(chunk: string) {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish()
        if (ch === '\u0003' || (ch === '\u0004' && chars.length === 0)) {
          return finish(new LoginError('login cancelled'))
        }
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1)
        else if (ch >= ' ') chars.push(ch)
      }
    }
    stdin.on('data', onData)
  })
}

/**
 * `orakel login`: trades the node's admin password for a session and saves it (with the API
 * URL) in ~/.orakel/session (ORAKEL_SESSION_FILE), mode 0600, for the other commands.
 */
export function loginCommand(): Command {
  return new Command('login')
    .description("Log in to a running node's API with its admin password; saves the session")
    .option('--url <url>', "the node's API (default: ORAKEL_API_URL or http://127.0.0.1:6688)")
    .option('--password-file <file>', 'read the password from this file instead of asking')
    .action(async (options: { url?: string; passwordFile?: string }) => {
      const url = await resolveApiUrl({ url: options.url })
      const password =
        options.passwordFile === undefined
          ? await promptPassword(`Admin password for ${url}: `)
          : await readFile(options.passwordFile, 'utf8').then(
              (s) => s.replace(/[\r\n]+$/, ''),
              (cause: unknown) => {
                throw new LoginError(`cannot read the password file ${options.passwordFile}`, {
                  cause,
                })
              },
            )
      if (password === '') throw new LoginError('the password is empty')
      const api = createApiClient({ url })
      const res = await api.request<{ token: string; expiresAt: string }>('POST', '/v2/sessions', {
        auth: false,
        body: JSON.stringify({ password }),
      })
      const path = await saveSession({ url, token: res.token, expiresAt: res.expiresAt })
      console.log(`logged in to ${url}; the session is saved in ${path} (until ${res.expiresAt})`)
    })
}

/** `orakel logout`: ends the saved session on the node and deletes the session file. */
export function logoutCommand(): Command {
  return new Command('logout')
    .description('End the session saved by `orakel login`')
    .action(async () => {
      const session = await readSession()
      if (!session) return console.log(`not logged in (no ${sessionFile()})`)
      try {
        await createApiClient({ url: session.url, token: session.token }).request(
          'DELETE',
          '/v2/sessions',
        )
      } catch (err) {
        // An expired session or a stopped node: the file goes all the same.
        if (!(err instanceof BaseError)) throw err
        console.error(`note: the node did not confirm the logout: ${err.shortMessage}`)
      }
      await removeSession()
      console.log(`logged out of ${session.url}`)
    })
}
