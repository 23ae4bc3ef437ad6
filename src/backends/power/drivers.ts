import {type InventoryBmc} from '../../inventory/inventory.js'
import {ipmiDriver} from './ipmi.js'
import {redfishDriver} from './redfish.js'
import {type PowerDriver} from './types.js'

/** Every kind of BMC pxeroot drives, by the inventory's bmc.driver. */
export const POWER_DRIVERS: Record<InventoryBmc['driver'], PowerDriver> = {ipmi: ipmiDriver, redfish: redfishDriver}
