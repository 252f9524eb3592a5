// Real winston JSON output for tests/app_loggers.rs (Debian node-winston).
const winston = require('winston');
const logger = winston.createLogger({
  level: 'info',
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  defaultMeta: { service: 'shop' },
  transports: [new winston.transports.Console()],
});
logger.info('user login', { user_id: 5, trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' });
logger.warn('slow request');
logger.error('save failed');
