// ARM's error shape (CloudError): `{"error": {"code", "message", "target"?, "details"?}}`, thrown by
// every layer of the emulator as an ArmError and rendered once by the server. Codes follow what ARM
// and the resource providers answer; README.md lists the ones that are our best guess.

export interface CloudErrorBody {
  code: string;
  message: string;
  target?: string;
  details?: CloudErrorBody[];
}

export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    /** Extra response headers, e.g. Retry-After on 429. */
    readonly headers: Record<string, string> = {},
    readonly details?: CloudErrorBody[],
  ) {
    super(message);
    this.name = 'ArmError';
  }

  body(): { error: CloudErrorBody } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.target !== undefined ? { target: this.target } : {}),
        ...(this.details ? { details: this.details } : {}),
      },
    };
  }
}

export const badRequest = (code: string, message: string, target?: string) => new ArmError(400, code, message, target);

export const invalidParameter = (message: string, target?: string) => new ArmError(400, 'InvalidParameter', message, target);

export const invalidContent = (message: string, target?: string) =>
  new ArmError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: '${message}'.`, target);

export const conflict = (code: string, message: string, target?: string) => new ArmError(409, code, message, target);

export const resourceGroupNotFound = (rg: string) =>
  new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);

/** What ARM answers for a tracked resource that does not exist. */
export const resourceNotFound = (type: string, name: string, rg: string) =>
  new ArmError(
    404,
    'ResourceNotFound',
    `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );

/** What the resource providers answer for a missing child resource (subnet, security rule). */
export const childNotFound = (id: string) => new ArmError(404, 'NotFound', `Resource ${id} not found.`);

/** A referenced resource (NIC, subnet, disk, public IP …) that does not exist or is in another region. */
export const invalidReference = (id: string, referencedBy: string) =>
  new ArmError(
    400,
    'InvalidResourceReference',
    `Resource ${id} referenced by resource ${referencedBy} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
  );

export const anotherOperationInProgress = (id: string, operation: string) =>
  new ArmError(409, 'AnotherOperationInProgress', `Operation ${operation} on resource ${id} is in progress; retry after it completes.`);

export const propertyChangeNotAllowed = (property: string) =>
  new ArmError(409, 'PropertyChangeNotAllowed', `Changing property '${property}' is not allowed.`, property);

export const operationNotAllowed = (message: string, target?: string) => new ArmError(409, 'OperationNotAllowed', message, target);
