// What each branch of the n8n pack must have done in Odoo, checked through the simulator's own JSON-RPC.
import { FLOWS } from './pack.mjs';
import { assert, assertEqual } from './lib.mjs';

/** Config values per run: the two runs (all-flows workflow, single-flow files) touch different records. */
const VALUES = {
  all: {
    contact_name: 'n8n all-flows contact',
    partner_email: 'n8n.all@example.com',
    phone: '+55 11 90000-0001',
    lead_name: 'n8n all-flows lead',
    lead_id: 1,
    priority: '3',
    product_default_code: 'FURN_7777',
    qty: 3,
    price: 123.5,
    so_name: 'S00001',
    message: 'n8n all-flows says hello',
    channel_name: 'general',
    customer_reference: 'PO-ALL-1',
    invoice_name: 'INV/2026/00002',
    invoice_reference: 'REF-ALL-1',
  },
  single: {
    contact_name: 'n8n single-flow contact',
    partner_email: 'n8n.single@example.com',
    phone: '+55 11 90000-0002',
    lead_name: 'n8n single-flow lead',
    lead_id: 2,
    priority: '3',
    product_default_code: 'FURN_8888',
    qty: 4,
    price: 99,
    so_name: 'S00002',
    message: 'n8n single-flow says hello',
    channel_name: 'general',
    customer_reference: 'PO-SINGLE-1',
    invoice_name: 'INV/2026/00003',
    invoice_reference: 'REF-SINGLE-1',
  },
};

/** The run of `n8n execute --id` (one branch, as docs/n8n/README.md runs it). */
VALUES.cli = { ...VALUES.all, lead_name: 'n8n execute lead', contact_name: 'n8n execute contact', partner_email: 'n8n.execute@example.com' };

/** The Config values of `flow` in run `v` (only the keys that flow's Config has). */
export function variantConfig(v, flow) {
  const spec = FLOWS.find((f) => f.key === flow);
  return spec ? Object.fromEntries(spec.config.map((c) => [c.name, VALUES[v][c.name]])) : {};
}

const one = (records, what) => {
  assertEqual(records.length, 1, `number of ${what}`);
  return records[0];
};

/** The gateway's answer to the branch's last call, as n8n output it. */
function answer(ctx, node) {
  const [json] = ctx.nodeOutput(ctx.result, node);
  assert(json?.ok === true, `${node} answered ${JSON.stringify(json)}`);
  return json;
}

async function partnerOf(ctx) {
  return one(await ctx.rpc('res.partner', 'search_read', [[['email', '=', ctx.values.partner_email]]], { fields: ['name', 'phone'] }),
    `partners with email ${ctx.values.partner_email}`);
}

async function productOf(ctx) {
  return one(await ctx.rpc('product.product', 'search_read', [[['default_code', '=', ctx.values.product_default_code]]], { fields: ['id'] }),
    'products').id;
}

async function lineMatches(ctx, model, lineIds, qtyField) {
  const lines = await ctx.rpc(model, 'read', [lineIds, ['product_id', qtyField, 'price_unit']]);
  const line = one(lines, `${model} lines`);
  assertEqual([line.product_id[0], line[qtyField], line.price_unit], [await productOf(ctx), ctx.values.qty, ctx.values.price],
    'line product, quantity and price');
}

async function postedMessage(ctx, model, name, node) {
  const target = one(await ctx.rpc(model, 'search_read', [[['name', '=', name]]], { fields: ['id'] }), `${model} named ${name}`);
  const body = `<p>${ctx.values.message}</p>`;
  const message = one(
    await ctx.rpc('mail.message', 'search_read', [[['model', '=', model], ['res_id', '=', target.id], ['body', '=', body]]],
      { fields: ['message_type', 'subtype_id'] }),
    `messages "${body}" on ${model} ${target.id}`,
  );
  assertEqual([message.message_type, message.subtype_id[0]], ['comment', 1], 'message type and subtype (Discussions)');
  assertEqual(answer(ctx, node).result, message.id, 'message id the gateway answered');
  return `message ${message.id} on ${model} ${target.id}`;
}

/** Each returns a line describing what it found; any mismatch throws. */
export const CHECKS = {
  async create_contact(ctx) {
    const partner = await partnerOf(ctx);
    assertEqual(partner.name, ctx.values.contact_name, 'partner name');
    assertEqual(answer(ctx, 'Create Contact').id, partner.id, 'id the gateway answered');
    return `res.partner ${partner.id} "${partner.name}"`;
  },
  async update_contact(ctx) {
    const partner = await partnerOf(ctx);
    assertEqual(partner.phone, ctx.values.phone, 'partner phone');
    assertEqual(answer(ctx, 'Update Contact').ids, [partner.id], 'ids the gateway changed');
    return `res.partner ${partner.id} phone ${partner.phone}`;
  },
  async create_lead(ctx) {
    const lead = one(await ctx.rpc('crm.lead', 'search_read', [[['name', '=', ctx.values.lead_name]]], { fields: ['contact_name', 'email_from'] }), 'leads');
    assertEqual([lead.contact_name, lead.email_from], [ctx.values.contact_name, ctx.values.partner_email], 'lead contact and email');
    assertEqual(answer(ctx, 'Create Lead').id, lead.id, 'id the gateway answered');
    return `crm.lead ${lead.id} "${ctx.values.lead_name}"`;
  },
  async update_lead(ctx) {
    const [lead] = await ctx.rpc('crm.lead', 'read', [[ctx.values.lead_id], ['priority']]);
    assertEqual(lead.priority, ctx.values.priority, `priority of crm.lead ${ctx.values.lead_id}`);
    answer(ctx, 'Update Lead');
    return `crm.lead ${lead.id} priority ${lead.priority}`;
  },
  async create_sale_order(ctx) {
    const partner = await partnerOf(ctx);
    const order = one(await ctx.rpc('sale.order', 'search_read', [[['partner_id', '=', partner.id]]], { fields: ['order_line', 'name'] }), 'sale orders of the partner');
    await lineMatches(ctx, 'sale.order.line', order.order_line, 'product_uom_qty');
    assertEqual(answer(ctx, 'Create Sale Order').id, order.id, 'id the gateway answered');
    return `sale.order ${order.id} ${order.name}: ${ctx.values.qty} × ${ctx.values.product_default_code} at ${ctx.values.price}`;
  },
  async create_invoice(ctx) {
    const partner = await partnerOf(ctx);
    const invoice = one(
      await ctx.rpc('account.move', 'search_read', [[['partner_id', '=', partner.id], ['move_type', '=', 'out_invoice']]], { fields: ['invoice_line_ids', 'state'] }),
      'invoices of the partner',
    );
    await lineMatches(ctx, 'account.move.line', invoice.invoice_line_ids, 'quantity');
    assertEqual(answer(ctx, 'Create Invoice').id, invoice.id, 'id the gateway answered');
    return `account.move ${invoice.id} (${invoice.state}): ${ctx.values.qty} × ${ctx.values.product_default_code} at ${ctx.values.price}`;
  },
  post_sale_order_message: (ctx) => postedMessage(ctx, 'sale.order', ctx.values.so_name, 'Post Sale Order Message'),
  post_channel_message: (ctx) => postedMessage(ctx, 'discuss.channel', ctx.values.channel_name, 'Post Channel Message'),
  async update_sale_order(ctx) {
    const order = one(await ctx.rpc('sale.order', 'search_read', [[['name', '=', ctx.values.so_name]]], { fields: ['client_order_ref'] }), 'orders');
    assertEqual(order.client_order_ref, ctx.values.customer_reference, `customer reference of ${ctx.values.so_name}`);
    assertEqual(answer(ctx, 'Update Sale Order').ids, [order.id], 'ids the gateway changed');
    return `sale.order ${ctx.values.so_name} client_order_ref ${order.client_order_ref}`;
  },
  async update_invoice(ctx) {
    const invoice = one(await ctx.rpc('account.move', 'search_read', [[['name', '=', ctx.values.invoice_name]]], { fields: ['ref'] }), 'invoices');
    assertEqual(invoice.ref, ctx.values.invoice_reference, `reference of ${ctx.values.invoice_name}`);
    assertEqual(answer(ctx, 'Update Invoice').ids, [invoice.id], 'ids the gateway changed');
    return `account.move ${ctx.values.invoice_name} ref ${invoice.ref}`;
  },
};
