// The StateStore port: local preferences, deployment records and step journals. The cloud is the
// source of truth; this is a cache (what we last saw) and a journal (what a command had done when
// it stopped), so that a re-run can resume and say what it is resuming.

export interface JournalStep {
  status: 'started' | 'done';
  at: string;
  /** IDs the step produced (instance id, group id …), for the resume summary. */
  result?: Record<string, string>;
}

export interface Journal {
  /** Stable for one launch attempt: ClientTokens derive from it, so a retry never creates twice. */
  id: string;
  command: string;
  startedAt: string;
  finishedAt?: string;
  steps: Record<string, JournalStep>;
}

export interface DeploymentRecord {
  name: string;
  cloud: string;
  region: string;
  createdAt: string;
  updatedAt: string;
  version?: string;
  size?: string;
  instanceId?: string;
  url?: string;
  sshUser?: string;
  /** Private key we generated for this deployment (0600, in the state dir). */
  privateKeyPath?: string;
  /** The resolved launch plan (flags and sources) of the last launch, for resume and status. */
  plan?: Record<string, unknown>;
  journal?: Journal;
  /** What `tls` installed: the domain and the certificate's expiry, for `status`. */
  tls?: {
    domain: string;
    url: string;
    notAfter: string;
    fingerprint256: string;
    dnsNames: string[];
    issuer: string;
    installedAt: string;
    /** `tls --tls acme`: Let's Encrypt renews the certificate on the instance (the expiry above is as last seen). */
    acme?: { email: string; ca: 'production' | 'staging'; challenge: 'http-01' | 'dns-01' };
  };
  /**
   * The A record `tls` created or changed in the cloud's DNS zone (tls --domain with the zone in the
   * same account): what `tls --remove` and `destroy` delete, and only while it still points at `value`.
   */
  tlsDns?: { zoneId: string; zoneName: string; name: string; value: string; ttl: number; previous?: string[]; changedAt: string };
  /**
   * HTTPS through the cloud's certificate and load balancer (`tls --tls managed`): the domain, the
   * DNS zone of the account that holds it (if any), and the journal of its steps, whose results name
   * everything created: what `tls --remove` and `destroy` delete, and what a re-run resumes.
   */
  tlsManaged?: { domain: string; url: string; zone?: { id: string; name: string }; journal: Journal; installedAt?: string };
  /**
   * The instance's own identity for `tls --tls acme`'s DNS-01 challenge (AWS: an IAM role and
   * instance profile on the instance), and the journal of its steps: what `tls --remove` and
   * `destroy` delete (found by name in the cloud too), and what a re-run resumes.
   */
  acmeDns?: { domain: string; zone: { id: string; name: string }; role: string; profile: string; journal: Journal };
}

export interface StateStore {
  /** The directory holding state, keys and pins (SOURCEGRAPH_LAUNCH_HOME relocates it). */
  readonly home: string;
  readonly keysDir: string;
  readonly knownHostsPath: string;
  getDeployment(cloud: string, region: string, name: string): DeploymentRecord | undefined;
  putDeployment(record: DeploymentRecord): void;
  deleteDeployment(cloud: string, region: string, name: string): void;
  listDeployments(): DeploymentRecord[];
  /** Answers saved from the last interactive run, offered as defaults next time. */
  getPreference(key: string): string | undefined;
  setPreferences(values: Record<string, string | undefined>): void;
  /** Exclusive per-deployment lock; throws if another live process holds it. */
  lock(cloud: string, region: string, name: string): () => void;
}
