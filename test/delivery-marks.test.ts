import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { beginDeliveryMark, deliveryMarkFor } from '../host/store/postgres/delivery-marks';

/**
 * Which delivery a subscriber's COMMIT records as handled (the outbox's exactly-once for subscribers
 * that write in a transaction), when several deliveries to one module run at once in this process.
 */
describe('delivery marks', () => {
  it('marks each of several deliveries in flight to one module by the transaction begun for it', () => {
    const first = beginDeliveryMark('marks-a', 101)!;
    const second = beginDeliveryMark('marks-a', 102)!;
    const markSecond = deliveryMarkFor('marks-a', 102)!;
    assert.match(markSecond.sql, /mark_handled\(102, 'marks-a'\)/);
    const markFirst = deliveryMarkFor('marks-a', 101)!;
    assert.match(markFirst.sql, /mark_handled\(101, 'marks-a'\)/);
    markSecond.committed();
    assert.equal(second(), true, 'the second delivery was completed by its own commit');
    assert.equal(first(), false, 'the first delivery was not: its mark was never committed');
    markFirst.committed();
    assert.equal(deliveryMarkFor('marks-a', 101), undefined, 'nothing is marked once the delivery ended');
  });

  it('marks nothing for a transaction begun for no delivery, for another module, or for a delivery not in flight', () => {
    const done = beginDeliveryMark('marks-b', 7)!;
    assert.equal(deliveryMarkFor('marks-b', null), undefined);
    assert.equal(deliveryMarkFor('marks-other', 7), undefined);
    assert.equal(deliveryMarkFor('marks-b', 8), undefined);
    assert.equal(done(), false);
  });

  it('lets the module-wide transaction mark only the delivery begun while none was in flight', () => {
    const oldest = beginDeliveryMark('marks-c', 1)!;
    const later = beginDeliveryMark('marks-c', 2)!;
    assert.match(deliveryMarkFor('marks-c')!.sql, /mark_handled\(1,/, 'the oldest one');
    assert.equal(oldest(), false);
    assert.equal(deliveryMarkFor('marks-c'), undefined, 'not the one begun while another ran: it could be taken by the wrong transaction');
    assert.equal(later(), false);
    const next = beginDeliveryMark('marks-c', 3)!;
    deliveryMarkFor('marks-c')!.committed();
    assert.equal(next(), true);
  });

  it('refuses a delivery already in flight', () => {
    const done = beginDeliveryMark('marks-d', 5)!;
    assert.equal(beginDeliveryMark('marks-d', 5), undefined);
    done();
  });
});
