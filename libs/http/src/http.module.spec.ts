import { AppConfig, ConfigModule, parseEnv } from '@app/config';
import { Test } from '@nestjs/testing';
import { OutboundHttpModule } from './http.module';
import { OutboundHttpClient } from './outbound-http.client';

describe('OutboundHttpModule', () => {
  it('provides one client built from AppConfig', async () => {
    const env = parseEnv({ OUTBOUND_ALLOW_HOSTS: 'localhost, 10.0.0.0/8' });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(env), OutboundHttpModule],
    }).compile();
    const client = moduleRef.get(OutboundHttpClient);
    expect(client).toBeInstanceOf(OutboundHttpClient);
    expect(moduleRef.get(AppConfig).env.OUTBOUND_ALLOW_HOSTS).toEqual(['localhost', '10.0.0.0/8']);
    expect(client.policy.isHostAllowListed('localhost')).toBe(true);
    expect(client.policy.isAddressAllowListed('10.9.8.7')).toBe(true);
    expect(client.policy.isAddressAllowListed('192.168.0.1')).toBe(false);
    await moduleRef.close();
  });
});
