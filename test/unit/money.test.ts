import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMoney, minorUnits, roundMoney } from '../../src/domain';

test('minor units follow ISO 4217', () => {
  assert.equal(minorUnits('USD'), 2);
  assert.equal(minorUnits('EUR'), 2);
  assert.equal(minorUnits('JPY'), 0);
  assert.equal(minorUnits('KRW'), 0);
  assert.equal(minorUnits('BHD'), 3);
  assert.equal(minorUnits('KWD'), 3);
  assert.equal(minorUnits('CLF'), 4);
});

test('unknown currency is rejected', () => {
  assert.throws(() => minorUnits('XYZ'), /Unknown currency "XYZ"/);
  assert.throws(() => minorUnits('usd'), /Unknown currency/);
});

test('money rounds half to even', () => {
  assert.equal(roundMoney('0.125', 'USD').toFixed(), '0.12');
  assert.equal(roundMoney('0.135', 'USD').toFixed(), '0.14');
  assert.equal(roundMoney('0.1251', 'USD').toFixed(), '0.13');
  assert.equal(roundMoney('2.5', 'JPY').toFixed(), '2');
  assert.equal(roundMoney('3.5', 'JPY').toFixed(), '4');
  assert.equal(roundMoney('1.0005', 'BHD').toFixed(), '1');
  assert.equal(roundMoney('1.0015', 'BHD').toFixed(), '1.002');
  assert.equal(roundMoney('-0.125', 'USD').toFixed(), '-0.12');
});

test('money formats with fixed minor digits', () => {
  assert.equal(formatMoney('15000', 'USD'), '15000.00');
  assert.equal(formatMoney('1500', 'JPY'), '1500');
  assert.equal(formatMoney('1501.5', 'JPY'), '1502');
  assert.equal(formatMoney('7.1', 'BHD'), '7.100');
  assert.equal(formatMoney('0.005', 'USD'), '0.00');
});

test('money stays exact beyond 20 digits', () => {
  assert.equal(roundMoney('123456789012345678901234.565', 'USD').toFixed(), '123456789012345678901234.56');
});
