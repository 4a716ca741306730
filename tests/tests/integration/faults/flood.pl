#!/usr/bin/perl
# flood.pl DEST CONNECTIONS SIGNALS UNIT...
#
# A hostile local client for the fault tests: opens CONNECTIONS connections of its own to the
# system bus (as whoever runs it, no privileges needed) and sends SIGNALS forged systemd signals
# straight to the bus name DEST, round-robin over its connections: `JobRemoved` with plausible
# arguments (low job ids, the given units, "done") and `PropertiesChanged` claiming the given
# units failed. The bus delivers a signal addressed to a client whatever its match rules, so only
# the receiver can tell these from systemd's. Written with perl-base only (the test hosts have no
# D-Bus bindings): the little D-Bus marshalling it needs is below.
use strict;
use warnings;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);

my ($dest, $connections, $signals, @units) = @ARGV;
die "usage: flood.pl DEST CONNECTIONS SIGNALS UNIT...\n" unless $dest && $signals && @units;

# Alignment is relative to the start of the buffer; every buffer here starts 8-aligned in its
# message.
sub pad { my ($buf, $align) = @_; $$buf .= "\0" x ((-length($$buf)) % $align); }
sub string { my ($buf, $s) = @_; pad($buf, 4); $$buf .= pack('V', length $s) . $s . "\0"; }
sub signature { my ($buf, $s) = @_; $$buf .= pack('C', length $s) . $s . "\0"; }
sub u32 { my ($buf, $v) = @_; pad($buf, 4); $$buf .= pack('V', $v); }
sub i32 { my ($buf, $v) = @_; pad($buf, 4); $$buf .= pack('l<', $v); }

# type 1 = method call, 4 = signal; fields: [code, type, value].
sub message {
    my ($type, $serial, $fields, $body) = @_;
    my $fixed = pack('a1CCC', 'l', $type, $type == 4 ? 1 : 0, 1)
        . pack('V', length $body) . pack('V', $serial);
    my $array = '';    # starts at offset 16 of the message: 8-aligned
    for my $field (@$fields) {
        my ($code, $t, $v) = @$field;
        pad(\$array, 8);
        $array .= pack('C', $code);
        signature(\$array, $t);
        if ($t eq 'g') { signature(\$array, $v) } else { string(\$array, $v) }
    }
    my $msg = $fixed . pack('V', length $array) . $array;
    pad(\$msg, 8);
    return $msg . $body;
}

sub connect_bus {
    my $socket = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => '/run/dbus/system_bus_socket')
        or die "connect to the system bus: $!\n";
    $socket->autoflush(1);
    my $uid = join '', map { sprintf '%02x', ord } split //, $<;
    print $socket "\0AUTH EXTERNAL $uid\r\n";
    my $line = <$socket>;
    die "bus refused us: $line" unless defined $line && $line =~ /^OK/;
    print $socket "BEGIN\r\n";
    print $socket message(1, 1, [
        [1, 'o', '/org/freedesktop/DBus'], [2, 's', 'org.freedesktop.DBus'],
        [3, 's', 'Hello'], [6, 's', 'org.freedesktop.DBus'],
    ], '');
    return $socket;
}

sub escape_unit {
    my ($unit) = @_;
    my $i = 0;
    return join '', map {
        my $c = $_; my $keep = $c =~ /[A-Za-z]/ || ($i > 0 && $c =~ /[0-9]/); $i++;
        $keep ? $c : sprintf('_%02x', ord $c)
    } split //, $unit;
}

sub job_removed {
    my ($serial, $n) = @_;
    my $unit = $units[$n % @units];
    my $body = '';
    u32(\$body, $n + 1);
    string(\$body, '/org/freedesktop/systemd1/job/' . ($n + 1));
    string(\$body, $unit);
    string(\$body, 'done');
    return message(4, $serial, [
        [1, 'o', '/org/freedesktop/systemd1'], [2, 's', 'org.freedesktop.systemd1.Manager'],
        [3, 's', 'JobRemoved'], [6, 's', $dest], [8, 'g', 'uoss'],
    ], $body);
}

sub properties_changed {
    my ($serial, $n) = @_;
    my $unit = $units[$n % @units];
    my $body = '';
    string(\$body, 'org.freedesktop.systemd1.Service');
    u32(\$body, 0);
    my $length_at = length($body) - 4;
    pad(\$body, 8);
    my $start = length $body;
    for my $entry (['Result', 's', 'exit-code'], ['ExecMainCode', 'i', 1], ['ExecMainStatus', 'i', 9]) {
        my ($key, $t, $v) = @$entry;
        pad(\$body, 8);
        string(\$body, $key);
        signature(\$body, $t);
        if ($t eq 's') { string(\$body, $v) } else { i32(\$body, $v) }
    }
    substr($body, $length_at, 4) = pack('V', length($body) - $start);
    u32(\$body, 0);    # no invalidated properties
    return message(4, $serial, [
        [1, 'o', '/org/freedesktop/systemd1/unit/' . escape_unit($unit)],
        [2, 's', 'org.freedesktop.DBus.Properties'], [3, 's', 'PropertiesChanged'],
        [6, 's', $dest], [8, 'g', 'sa{sv}as'],
    ], $body);
}

my @sockets = map { connect_bus() } 1 .. $connections;
my @serials = (2) x $connections;
for my $n (0 .. $signals - 1) {
    my $c = $n % $connections;
    my $serial = $serials[$c]++;
    my $msg = $n % 2 ? properties_changed($serial, $n) : job_removed($serial, $n);
    print { $sockets[$c] } $msg or die "send: $!\n";
}
close $_ for @sockets;
print "sent $signals signals to $dest from $connections connections\n";
