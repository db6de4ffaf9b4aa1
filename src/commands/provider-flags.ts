// The flags a cloud declares (src/cloud/<provider>/provider.ts), read for the chosen cloud: each
// validated by its declaration and mapped onto the neutral plan by its role. A flag of another
// cloud is bad input naming the cloud it belongs to.
import { availableProviders } from '../cloud/providers.js';
import { flagName, type AddressChoice, type ProviderDescriptor } from '../cloud/provider.js';
import { UsageError } from '../core/errors.js';

export interface ProviderFlagValues {
  address?: AddressChoice;
  existingSshKey?: string;
  encryptionKey?: string;
  /** Settings of the snapshot schedule (the role it acts as), by their param name. */
  scheduleParams: Record<string, string>;
  /** The scope's own values (a profile), by their param name. */
  scopeParams: Record<string, string>;
  /** Every given flag's validated text, by its property (for the plan's equivalent command). */
  given: Record<string, string>;
}

export function readProviderFlags(provider: ProviderDescriptor, given: Record<string, string> = {}): ProviderFlagValues {
  const out: ProviderFlagValues = { scheduleParams: {}, scopeParams: {}, given: {} };
  for (const [key, text] of Object.entries(given)) {
    const flag = provider.flags.find((f) => f.key === key);
    if (!flag) {
      const owner = availableProviders().find((p) => p.flags.some((f) => f.key === key));
      const decl = owner?.flags.find((f) => f.key === key);
      throw new UsageError(`${decl ? flagName(decl) : key} is a ${owner?.displayName ?? 'another cloud\'s'} flag; it does not apply to --cloud ${provider.id}`, {
        code: 'flag-of-another-cloud',
      });
    }
    const value = flag.validate(text);
    out.given[key] = typeof value === 'string' ? value : text.trim();
    switch (flag.role) {
      case 'address':
        out.address = value as AddressChoice;
        break;
      case 'existing-ssh-key':
        out.existingSshKey = value as string;
        break;
      case 'encryption-key':
        out.encryptionKey = value as string;
        break;
      case 'schedule-param':
        out.scheduleParams[flag.param ?? key] = value as string;
        break;
      case 'scope-param':
        out.scopeParams[flag.param ?? key] = value as string;
        break;
    }
  }
  return out;
}
