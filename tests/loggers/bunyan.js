// Real bunyan output for tests/app_loggers.rs (Debian node-bunyan).
const bunyan = require('bunyan');
const log = bunyan.createLogger({name: 'shop', serializers: bunyan.stdSerializers});
log.info({user_id: 5, trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7'}, 'user login');
log.warn('slow request');
log.error({err: new Error('disk full')}, 'save failed');
