// Teaches ajv drplan's two custom formats, so the ajv-cli comparison in
// run-validate.sh checks the same things drplan does.
module.exports = function (ajv) {
  ajv.addFormat("dr-duration", /^(?=.)([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$/);
  ajv.addFormat("ipv4-cidr", {
    validate: (s) => {
      const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s);
      if (!m) return false;
      const o = m.slice(1, 5).map(Number), p = Number(m[5]);
      if (o.some((x) => x > 255) || p > 32) return false;
      const a = ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
      const mask = p === 0 ? 0 : (~0 << (32 - p)) >>> 0;
      return ((a & ~mask) >>> 0) === 0;
    },
  });
  return ajv;
};
