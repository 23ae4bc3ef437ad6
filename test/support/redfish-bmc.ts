/**
 * A stand-in Redfish BMC for tests, on 127.0.0.1 over HTTPS with a certificate of its own: no
 * Redfish emulator is packaged in Debian 12 (DMTF's Redfish-Mockup-Server and OpenStack's
 * sushy-tools are on PyPI only, which is not reachable here), so this serves the resources of
 * DMTF's schema a power driver uses, as DSP0266 and the ComputerSystem schema define them: the
 * service root, the Systems collection, one ComputerSystem with PowerState and its
 * #ComputerSystem.Reset action (target, ResetType@Redfish.AllowableValues), Basic
 * authentication with 401 and a Redfish error body when it fails, and 204 for an accepted reset.
 * GracefulShutdown passes through PoweringOff, as a machine whose OS shuts down does.
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import {createServer, type Server} from 'node:https'
import os from 'node:os'
import path from 'node:path'

export interface RedfishBmc {
  address: string
  /** PEM of its self-signed certificate (what --bmc-ca takes). */
  cert: string
  certFile: string
  power: 'On' | 'Off' | 'PoweringOff' | 'PoweringOn'
  requests: {method: string, path: string, body?: unknown, authorization?: string}[]
  close(): Promise<void>
}

const SYSTEM = '/redfish/v1/Systems/437XR1138R2'

export async function startRedfishBmc(user: string, password: string, options: {systems?: number} = {}): Promise<RedfishBmc> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-redfish-'))
  const key = path.join(dir, 'key.pem')
  const certFile = path.join(dir, 'cert.pem')
  await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {timeout: 30_000})
  const cert = await fs.readFile(certFile, 'utf8')
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
  const systems = Array.from({length: options.systems ?? 1}, (_, i) => (i === 0 ? SYSTEM : `/redfish/v1/Systems/${i + 1}`))
  const bmc = {address: '', cert, certFile, power: 'Off', requests: [], close: async () => {}} as RedfishBmc
  const send = (res: import('node:http').ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, {'Content-Type': 'application/json', 'OData-Version': '4.0'})
    res.end(body === undefined ? undefined : JSON.stringify(body))
  }
  const server: Server = createServer({key: await fs.readFile(key), cert}, (req, res) => {
    let text = ''
    req.on('data', (c: Buffer) => {
      text += c.toString()
    })
    req.on('end', () => {
      const body = text ? JSON.parse(text) as {ResetType?: string} : undefined
      bmc.requests.push({method: req.method ?? '', path: req.url ?? '', ...(body ? {body} : {}), authorization: req.headers.authorization})
      if (req.headers.authorization !== expected) {
        send(res, 401, {error: {code: 'Base.1.8.GeneralError', message: 'Unauthorized', '@Message.ExtendedInfo': [{MessageId: 'Base.1.8.InsufficientPrivilege', Message: 'There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.'}]}})
        return
      }
      const url = req.url ?? ''
      if (req.method === 'GET' && url === '/redfish/v1') {
        send(res, 200, {'@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot', '@odata.id': '/redfish/v1', Id: 'RootService', Name: 'Root Service', RedfishVersion: '1.6.0', Systems: {'@odata.id': '/redfish/v1/Systems'}})
      } else if (req.method === 'GET' && url === '/redfish/v1/Systems') {
        send(res, 200, {'@odata.type': '#ComputerSystemCollection.ComputerSystemCollection', '@odata.id': '/redfish/v1/Systems', Name: 'Computer System Collection', 'Members@odata.count': systems.length, Members: systems.map((s) => ({'@odata.id': s}))})
      } else if (req.method === 'GET' && systems.includes(url)) {
        send(res, 200, {
          '@odata.type': '#ComputerSystem.v1_10_0.ComputerSystem', '@odata.id': url, Id: path.basename(url), Name: 'Lab node', SystemType: 'Physical', PowerState: bmc.power,
          Actions: {'#ComputerSystem.Reset': {target: `${url}/Actions/ComputerSystem.Reset`, 'ResetType@Redfish.AllowableValues': ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'PushPowerButton']}},
        })
      } else if (req.method === 'POST' && systems.some((s) => url === `${s}/Actions/ComputerSystem.Reset`)) {
        const type = body?.ResetType
        if (type === 'On') bmc.power = 'On'
        else if (type === 'ForceOff') bmc.power = 'Off'
        else if (type === 'GracefulShutdown' && bmc.power === 'On') {
          bmc.power = 'PoweringOff'
          setTimeout(() => {
            bmc.power = 'Off'
          }, 300)
        } else if (type !== 'GracefulShutdown') {
          send(res, 400, {error: {code: 'Base.1.8.ActionParameterNotSupported', message: `ResetType ${String(type)} is not supported`}})
          return
        }
        send(res, 204)
      } else {
        send(res, 404, {error: {code: 'Base.1.8.ResourceMissingAtURI', message: `${url} was not found`}})
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as {port: number}).port
  bmc.address = `127.0.0.1:${port}`
  bmc.close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    await fs.rm(dir, {recursive: true, force: true})
  }
  return bmc
}
