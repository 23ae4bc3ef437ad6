import {Agent, request} from 'undici'

/** One HTTPS exchange with a BMC; the body parsed as JSON when it is some. */
export interface HttpRequest {
  method: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** PEM text of the CA (or the certificate itself) that must have signed the server's certificate. */
  ca?: string
  /** Do not verify the server's certificate (a lab's self-signed BMC, by the admin's choice). */
  insecure?: boolean
  timeoutMs: number
  signal?: AbortSignal
}

export interface HttpResponse {
  status: number
  text: string
}

/** The HTTP seam of the Redfish driver, replaceable in tests as the Runner is. */
export interface HttpClient {
  request(url: string, options: HttpRequest): Promise<HttpResponse>
}

/**
 * undici (the HTTP client Node's own fetch is built on, kept by the Node.js project): unlike the
 * global fetch of Node 20 it takes TLS options per request (a BMC's own CA, or no verification
 * when the admin says so), and it bounds the connection, the headers and the body separately.
 * One agent per trust setting, closed after the exchange: BMCs are few and slow, a pool buys nothing.
 */
export const undiciHttp: HttpClient = {
  async request(url, options) {
    const agent = new Agent({
      connect: {timeout: options.timeoutMs, ...(options.ca ? {ca: options.ca} : {}), ...(options.insecure ? {rejectUnauthorized: false} : {})},
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    })
    try {
      const r = await request(url, {method: options.method, headers: options.headers, body: options.body, dispatcher: agent, signal: options.signal})
      return {status: r.statusCode, text: await r.body.text()}
    } finally {
      await agent.close().catch(() => undefined)
    }
  },
}
