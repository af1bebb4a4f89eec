import { describe, expect, it } from 'vitest';
import { isForbiddenAddress, parseWebhookUrl } from './webhook-address.js';

describe('isForbiddenAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.254',
    '192.168.1.1',
    '169.254.169.254',
    '169.254.0.1',
    '0.0.0.0',
    '100.64.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '[::1]',
    'fc00::1',
    'fd12:3456::1',
    'fd00:ec2::254',
    'fe80::1',
    'fe80::1%eth0',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.1.2.3',
    '::ffff:a9fe:a9fe',
    '::127.0.0.1',
    '64:ff9b::10.0.0.1',
    '0:0:0:0:0:ffff:c0a8:0101',
    'not-an-ip',
    '',
  ])('refuses %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  it.each([
    '93.184.215.14',
    '8.8.8.8',
    '172.15.255.255',
    '172.32.0.1',
    '192.169.0.1',
    '169.253.255.255',
    '11.0.0.1',
    '2606:4700:4700::1111',
    '2001:db8::1',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
  ])('allows %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(false);
  });
});

describe('parseWebhookUrl', () => {
  it.each([
    ['https://hooks.example.com/infq', 'hooks.example.com', false],
    ['http://127.0.0.1:9000/x', '127.0.0.1', true],
    ['http://[::1]:9000/x', '::1', true],
    ['http://2130706433/', '127.0.0.1', true],
    ['http://0x7f.1/', '127.0.0.1', true],
  ])('reads %s', (text, host, isIpLiteral) => {
    expect(parseWebhookUrl(text)).toMatchObject({ host, isIpLiteral });
  });

  it.each(['ftp://example.com/', 'file:///etc/passwd', 'example.com', '', 'http://', 'gopher://x'])(
    'refuses %j',
    (text) => {
      expect(parseWebhookUrl(text)).toBeUndefined();
    },
  );
});
