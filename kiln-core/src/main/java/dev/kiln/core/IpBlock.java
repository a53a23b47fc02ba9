package dev.kiln.core;

import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;

/** An IPv4 or IPv6 address or CIDR block, parsed without any name lookup. Its text is {@code address/prefix}. */
public record IpBlock(InetAddress address, int prefix) {
    public boolean ipv6() {
        return address.getAddress().length == 16;
    }

    /** {@code text} is quoted in errors (the whole entry it came from). */
    public static IpBlock parse(String block, String text) {
        String addr = block;
        Integer prefix = null;
        int slash = block.indexOf('/');
        if (slash >= 0) {
            addr = block.substring(0, slash);
            try {
                prefix = Integer.parseInt(block.substring(slash + 1));
            } catch (NumberFormatException e) {
                throw NetworkAllowEntry.bad(text, "the prefix length must be a number");
            }
        }
        InetAddress a = literal(addr, text);
        int bits = a.getAddress().length * 8;
        int p = prefix == null ? bits : prefix;
        if (p < 0 || p > bits) throw NetworkAllowEntry.bad(text, "the prefix length must be 0 to " + bits);
        return new IpBlock(network(a, p), p);
    }

    /** An address literal only: anything with a letter other than hex digits in IPv6 is refused, never resolved. */
    private static InetAddress literal(String addr, String text) {
        boolean v4 = addr.matches("\\d{1,3}(\\.\\d{1,3}){3}");
        boolean v6 = addr.contains(":") && addr.matches("[0-9A-Fa-f:.]+");
        if (v4) {
            for (String part : addr.split("\\.")) {
                if (Integer.parseInt(part) > 255) throw NetworkAllowEntry.bad(text, "not an IPv4 address");
            }
        }
        if (!v4 && !v6) throw NetworkAllowEntry.bad(text, "not an IP address");
        try {
            return InetAddress.getByName(addr); // a literal: no lookup
        } catch (UnknownHostException e) {
            throw NetworkAllowEntry.bad(text, "not an IP address");
        }
    }

    private static InetAddress network(InetAddress a, int prefix) {
        byte[] b = a.getAddress();
        BigInteger mask = BigInteger.ONE.shiftLeft(b.length * 8).subtract(BigInteger.ONE)
                .shiftRight(prefix).not();
        byte[] raw = new BigInteger(1, b).and(mask).toByteArray();
        byte[] out = new byte[b.length];
        int n = Math.min(raw.length, out.length);
        System.arraycopy(raw, raw.length - n, out, out.length - n, n);
        try {
            return InetAddress.getByAddress(out);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether {@code a} (same family) lies in this block. */
    public boolean contains(InetAddress a) {
        byte[] raw = a.getAddress();
        if (raw.length != address.getAddress().length) return false;
        try {
            return network(InetAddress.getByAddress(raw), prefix).equals(address);
        } catch (UnknownHostException e) {
            return false;
        }
    }

    @Override
    public String toString() {
        String host = address.getHostAddress();
        int bits = address.getAddress().length * 8;
        return prefix == bits ? host : host + "/" + prefix;
    }
}
