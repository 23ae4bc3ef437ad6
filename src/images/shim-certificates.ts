import {X509Certificate} from 'node:crypto'

/**
 * The certificates a shim binary trusts on its own: its `.vendor_cert` section (Debian's shim
 * carries "Debian Secure Boot CA" there), which shim checks second-stage loaders and, through
 * GRUB's shim_lock, kernels against. Read from the PE file itself, so what pxeroot checks a
 * kernel against is exactly what the shim it serves embeds. Pure.
 */
export function shimVendorCertificates(image: Buffer): X509Certificate[] {
  const section = peSection(image, '.vendor_cert')
  if (!section || section.length < 16) return []
  // struct cert_table { u32 vendor_authorized_size, vendor_deauthorized_size, vendor_authorized_offset, vendor_deauthorized_offset }
  const size = section.readUInt32LE(0)
  const offset = section.readUInt32LE(8)
  const authorized = section.subarray(offset, offset + size)
  if (authorized.length === 0) return []
  // A shim built with VENDOR_CERT_FILE embeds one DER certificate; one built with VENDOR_DB_FILE an EFI signature list.
  return authorized[0] === 0x30 ? [new X509Certificate(authorized)] : signatureListCertificates(authorized)
}

/** EFI_CERT_X509_GUID a5c059a1-94e4-4aa7-87b5-ab155c2bf072, as it is laid out in memory. */
const EFI_CERT_X509 = Buffer.from('a159c0a5e494a74a87b5ab155c2bf072', 'hex')

/** The X.509 entries of EFI_SIGNATURE_LISTs (type GUID, list size, header size, entry size; entries = owner GUID + data). */
function signatureListCertificates(data: Buffer): X509Certificate[] {
  const out: X509Certificate[] = []
  let at = 0
  while (at + 28 <= data.length) {
    const listSize = data.readUInt32LE(at + 16)
    const headerSize = data.readUInt32LE(at + 20)
    const entrySize = data.readUInt32LE(at + 24)
    if (listSize < 28 || entrySize <= 16 || at + listSize > data.length) break
    if (data.subarray(at, at + 16).equals(EFI_CERT_X509)) {
      for (let e = at + 28 + headerSize; e + entrySize <= at + listSize; e += entrySize) out.push(new X509Certificate(data.subarray(e + 16, e + entrySize)))
    }
    at += listSize
  }
  return out
}

/** The raw bytes of a named section of a PE/COFF image (long names live in the COFF string table). */
export function peSection(image: Buffer, name: string): Buffer | undefined {
  if (image.length < 0x40 || image.toString('latin1', 0, 2) !== 'MZ') return undefined
  const pe = image.readUInt32LE(0x3c)
  if (pe + 24 > image.length || image.toString('latin1', pe, pe + 4) !== 'PE\0\0') return undefined
  const sections = image.readUInt16LE(pe + 6)
  const strings = image.readUInt32LE(pe + 12) + image.readUInt32LE(pe + 16) * 18
  const table = pe + 24 + image.readUInt16LE(pe + 20)
  for (let i = 0; i < sections; i++) {
    const at = table + i * 40
    if (at + 40 > image.length) return undefined
    let sectionName = image.toString('latin1', at, at + 8).replace(/\0+$/, '')
    if (/^\/\d+$/.test(sectionName)) {
      const start = strings + Number(sectionName.slice(1))
      const end = image.indexOf(0, start)
      sectionName = image.toString('latin1', start, end < 0 ? image.length : end)
    }
    if (sectionName !== name) continue
    const size = Math.min(image.readUInt32LE(at + 8), image.readUInt32LE(at + 16))
    const raw = image.readUInt32LE(at + 20)
    return raw + size <= image.length ? image.subarray(raw, raw + size) : undefined
  }
  return undefined
}
