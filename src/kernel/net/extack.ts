// struct netlink_ext_ack (include/linux/netlink.h): the one message a failing netlink request hands
// back to user space, which iproute2 prints as "Error: <msg>." and libbpf as "Kernel error message:
// <msg>". NL_SET_ERR_MSG keeps the first message set by the innermost code that sets one last, as the
// kernel's macro simply overwrites; NL_SET_ERR_MSG_MOD prefixes the module's name ("nfp: ...").

export class NetlinkExtAck {
  _msg: string | undefined;

  /** NL_SET_ERR_MSG(). */
  set(msg: string): void {
    this._msg = msg;
  }

  /** NL_SET_ERR_MSG_MOD(): KBUILD_MODNAME ": " msg. */
  setMod(module: string, msg: string): void {
    this._msg = `${module}: ${msg}`;
  }
}
