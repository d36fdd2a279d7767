module.exports = {
  db: {
    host: 'db.acme.internal',
    user: 'web',
    password: 'ltRVN2rfk1Ybx6w.6j2ykD',
  },
};
