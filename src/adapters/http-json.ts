import { redactUrl } from '../pipeline/http-client.ts'
import {
  type FetchAdapterParameters,
  fetchRequestedJson,
  REQUESTED_FETCH_PROPERTIES,
  type RequestedFetch,
  readRequestedPath,
} from './fetch-json.ts'
import { type Adapter, defineAdapter } from './sdk.ts'

/**
 * The `http-json` adapter: fetches any JSON API and answers the value at a path.
 *
 *   {"url": "https://api.example.com/v1/ticker?s=ETH", "path": "data,last"}
 *   → {"result": 3012.5, "url": "https://api.example.com/v1/ticker?…", "status": 200}
 *
 * Headers and credentials for an API come from the adapter's secrets (credentials.ts), matched
 * by URL prefix, never from the request: a request naming an Authorization, Cookie or key/token
 * header, or a URL with user:password, is refused with 400. The URL comes from the request, so
 * the SSRF guard applies unless the operator sets `allowUnrestrictedNetworkAccess`.
 */

const PATH = {
  oneOf: [
    { type: 'string', description: 'comma-separated, Chainlink style: "data,price"' },
    { type: 'array', items: { type: 'string' } },
  ],
} as const

export const HTTP_JSON_INPUT_SCHEMA = {
  type: 'object',
  required: ['url'],
  additionalProperties: false,
  properties: { ...REQUESTED_FETCH_PROPERTIES, path: PATH },
} as const

export const HTTP_JSON_OUTPUT_SCHEMA = {
  type: 'object',
  required: ['result', 'url'],
  properties: {
    result: { description: 'the value at path (the whole document without one)' },
    url: { type: 'string', description: 'the URL fetched, query redacted' },
  },
} as const

type Input = RequestedFetch & { path?: string | string[] }

export function createHttpJsonAdapter(deps: FetchAdapterParameters): Adapter {
  return defineAdapter<Input>({
    name: 'http-json',
    description: 'Fetches a JSON API and answers the value at a path',
    input: HTTP_JSON_INPUT_SCHEMA,
    output: HTTP_JSON_OUTPUT_SCHEMA,
    async run(input, ctx) {
      const json = await fetchRequestedJson(deps, input, ctx.signal)
      const result = input.path === undefined ? json : readRequestedPath(json, input.path)
      return { result: result ?? null, url: redactUrl(input.url) }
    },
  })
}
