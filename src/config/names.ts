/** An image name: what `image build --name` takes and revisions are filed under. */
export const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]*$/

/** A revision reference NAME@N, N from 1. */
export const REVISION_REF = new RegExp(`^(${IMAGE_NAME.source.slice(1, -1)})@([1-9][0-9]*)$`)

/** A Linux network interface name: at most 15 characters (IFNAMSIZ), no "/" or whitespace. */
export const INTERFACE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/
