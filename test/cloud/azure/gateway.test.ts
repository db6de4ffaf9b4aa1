// The pure parts of the Azure gateway (tls --tls managed): where its subnet goes in the network's
// address space, what it costs (presets/azure-prices.json only, never guessed), and its body.
import { describe, expect, it } from 'vitest';
import azurePrices from '../../../presets/azure-prices.json' with { type: 'json' };
import { freeGatewayPrefix, gatewayBody, gatewayCost, gatewayNames } from '../../../src/cloud/azure/gateway.js';

describe('the gateway\'s subnet', () => {
  it('the first free /24 of the address space, a /26 when no /24 is free, none when nothing is', () => {
    expect(freeGatewayPrefix(['10.77.0.0/16'], ['10.77.0.0/20'])).toBe('10.77.16.0/24');
    expect(freeGatewayPrefix(['10.77.0.0/16'], ['10.77.0.0/24', '10.77.2.0/23'])).toBe('10.77.1.0/24');
    expect(freeGatewayPrefix(['10.0.0.0/24'], ['10.0.0.0/26', '10.0.0.128/25'])).toBe('10.0.0.64/26');
    expect(freeGatewayPrefix(['10.0.0.0/24'], ['10.0.0.0/24'])).toBeUndefined();
    expect(freeGatewayPrefix(['10.0.0.0/16', '10.1.0.0/16'], ['10.0.0.0/16'])).toBe('10.1.0.0/24');
  });

  it('names within Azure\'s limits, from the deployment name', () => {
    expect(gatewayNames('prod')).toEqual({ gateway: 'prod-appgw', address: 'prod-appgw-ip', subnet: 'sourcegraph-launch-appgw-prod' });
    expect(gatewayNames('x'.repeat(90)).gateway.length).toBeLessThanOrEqual(80);
  });
});

describe('what the gateway costs', () => {
  it('the fixed hours, one capacity unit and the public IP at eastus list prices, with the file\'s sources and date', () => {
    const cost = gatewayCost('eastus');
    const gw = azurePrices.regions.eastus.applicationGatewayV2;
    expect(cost.parts.map((p) => p.monthlyUsd)).toEqual([Math.round(gw.fixedHourUsd * 730 * 100) / 100, Math.round(gw.capacityUnitHourUsd * 730 * 100) / 100, 3.65]);
    expect(cost.totalUsd).toBe(189.07);
    expect(cost.priceDate).toBe(azurePrices.applicationGateway.date);
    expect(cost.source.join(' ')).toContain('application-gateway');
  });

  it('a location without prices is "unknown", never another one\'s figure', () => {
    const cost = gatewayCost('westeurope');
    expect(cost.totalUsd).toBeUndefined();
    expect(cost.parts.every((p) => p.monthlyUsd === undefined)).toBe(true);
  });
});

describe('the gateway\'s body', () => {
  it('HTTPS on 443 with the certificate for the domain, 80 redirecting to it, the VM over HTTP on 80 with a /healthz probe', () => {
    const id = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationGateways/prod-appgw';
    const body = gatewayBody({ location: 'eastus' }, id, { deployment: 'prod', domain: 'sg.example.com', subnetId: 'SUB', addressId: 'PIP', backendIp: '10.77.0.4', certificate: { certPem: '', keyPem: '' } }, { data: 'DATA', password: 'PW' });
    const p = body.properties;
    expect(body.tags['sourcegraph-launch:tls-for']).toBe('prod');
    expect(body.tags['sourcegraph-launch:deployment']).toBeUndefined();
    expect(p.sku).toEqual({ name: 'Standard_v2', tier: 'Standard_v2' });
    expect(p.sslCertificates).toEqual([{ name: 'domain', properties: { data: 'DATA', password: 'PW' } }]);
    expect(p.backendHttpSettingsCollection[0].properties).toMatchObject({ port: 80, protocol: 'Http', probe: { id: `${id}/probes/healthz` } });
    expect(p.backendAddressPools[0].properties.backendAddresses).toEqual([{ ipAddress: '10.77.0.4' }]);
    expect(p.httpListeners[0].properties).toMatchObject({ protocol: 'Https', hostName: 'sg.example.com', sslCertificate: { id: `${id}/sslCertificates/domain` } });
    expect(p.requestRoutingRules[1].properties.redirectConfiguration).toEqual({ id: `${id}/redirectConfigurations/http-to-https` });
    expect(p.redirectConfigurations[0].properties).toMatchObject({ redirectType: 'Permanent', targetListener: { id: `${id}/httpListeners/https` } });
  });
});
