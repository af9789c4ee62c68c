;; Elementwise float32 kernels of the denoising loop and the pixel conversion, in WebAssembly SIMD.
;;
;; WebAssembly float32 arithmetic (f32.add/sub/mul/div and the f32x4 forms) is IEEE 754 binary32
;; with round-to-nearest-even, subnormals kept, and no fused multiply-add. Each kernel performs the
;; same float32 operations in the same order as its JavaScript reference (which rounds every
;; operation with Math.fround), so the results are bit-identical; the tests compare both on random
;; and edge-case inputs. Pointers are byte offsets into the exported memory; `n` counts elements.
;;
;; Build: `npm run build:wasm` (wabt) regenerates pipelines/simd/kernels-wasm.ts from this file.
(module
  (memory (export "memory") 1)

  ;; Euler step of a guided epsilon-prediction UNet output, fused with the next UNet input:
  ;;   eps  = u + g·(c − u)                 (u, c: the uncond / cond halves of `unet`, length 2n)
  ;;   x0   = x − sigmaHat·eps ; d = (x − x0) / sigmaHat ; next = x + d·dt      -> prev[i]
  ;;   when writeNext ≠ 0: s = next / divisor -> nextInput[i] and nextInput[n + i]
  (func (export "euler_guided_step")
    (param $unet i32) (param $sample i32) (param $prev i32) (param $nextInput i32) (param $n i32)
    (param $g f32) (param $sigmaHat f32) (param $dt f32) (param $divisor f32) (param $writeNext i32)
    (local $i i32) (local $off i32) (local $half i32) (local $vecEnd i32)
    (local $G v128) (local $SH v128) (local $DT v128) (local $DIV v128)
    (local $u v128) (local $x v128) (local $eps v128) (local $x0 v128) (local $next v128) (local $s v128)
    (local $su f32) (local $sx f32) (local $seps f32) (local $sx0 f32) (local $snext f32) (local $ss f32)
    (local.set $G (f32x4.splat (local.get $g)))
    (local.set $SH (f32x4.splat (local.get $sigmaHat)))
    (local.set $DT (f32x4.splat (local.get $dt)))
    (local.set $DIV (f32x4.splat (local.get $divisor)))
    (local.set $half (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vecEnd (i32.and (local.get $n) (i32.const -4)))
    (block $vecDone
      (loop $vec
        (br_if $vecDone (i32.ge_u (local.get $i) (local.get $vecEnd)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (local.set $u (v128.load (i32.add (local.get $unet) (local.get $off))))
        (local.set $eps
          (f32x4.add (local.get $u)
            (f32x4.mul (local.get $G)
              (f32x4.sub (v128.load (i32.add (i32.add (local.get $unet) (local.get $half)) (local.get $off))) (local.get $u)))))
        (local.set $x (v128.load (i32.add (local.get $sample) (local.get $off))))
        (local.set $x0 (f32x4.sub (local.get $x) (f32x4.mul (local.get $SH) (local.get $eps))))
        (local.set $next
          (f32x4.add (local.get $x)
            (f32x4.mul (f32x4.div (f32x4.sub (local.get $x) (local.get $x0)) (local.get $SH)) (local.get $DT))))
        (v128.store (i32.add (local.get $prev) (local.get $off)) (local.get $next))
        (if (local.get $writeNext)
          (then
            (local.set $s (f32x4.div (local.get $next) (local.get $DIV)))
            (v128.store (i32.add (local.get $nextInput) (local.get $off)) (local.get $s))
            (v128.store (i32.add (i32.add (local.get $nextInput) (local.get $half)) (local.get $off)) (local.get $s))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vec)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (local.set $su (f32.load (i32.add (local.get $unet) (local.get $off))))
        (local.set $seps
          (f32.add (local.get $su)
            (f32.mul (local.get $g)
              (f32.sub (f32.load (i32.add (i32.add (local.get $unet) (local.get $half)) (local.get $off))) (local.get $su)))))
        (local.set $sx (f32.load (i32.add (local.get $sample) (local.get $off))))
        (local.set $sx0 (f32.sub (local.get $sx) (f32.mul (local.get $sigmaHat) (local.get $seps))))
        (local.set $snext
          (f32.add (local.get $sx)
            (f32.mul (f32.div (f32.sub (local.get $sx) (local.get $sx0)) (local.get $sigmaHat)) (local.get $dt))))
        (f32.store (i32.add (local.get $prev) (local.get $off)) (local.get $snext))
        (if (local.get $writeNext)
          (then
            (local.set $ss (f32.div (local.get $snext) (local.get $divisor)))
            (f32.store (i32.add (local.get $nextInput) (local.get $off)) (local.get $ss))
            (f32.store (i32.add (i32.add (local.get $nextInput) (local.get $half)) (local.get $off)) (local.get $ss))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

;; Decoder output [3, plane] (planar float32 at `src`) -> interleaved RGB bytes at `dst` (3·plane),
  ;; using `scratch` (3·plane bytes) for the planar bytes. Per value: y = clamp(x·0.5 + 0.5, 0, 1),
  ;; v = y·255, rounded half to even by adding 2^23 (the float32 sum of v ∈ [0, 255] and 2^23 is an
  ;; integer, rounded to nearest-even, whose low mantissa bits are the byte). Returns how many values
  ;; are NaN or ±Inf (x − x ≠ 0); the bytes written for those are meaningless.
  (func (export "decoded_to_rgb") (param $src i32) (param $dst i32) (param $scratch i32) (param $plane i32) (result i32)
    (local $i i32) (local $count i32) (local $vecEnd i32) (local $at i32) (local $bad v128) (local $badCount i32)
    (local $v0 v128)
    (local $p i32) (local $r v128) (local $g v128) (local $b v128) (local $rg v128) (local $out i32)
    (local $x f32) (local $c i32)
    (local.set $count (i32.mul (local.get $plane) (i32.const 3)))
    ;; pass 1: all 3·plane values to planar bytes, four at a time
    (local.set $vecEnd (i32.and (local.get $count) (i32.const -4)))
    (block $convertDone
      (loop $convert
        (br_if $convertDone (i32.ge_u (local.get $i) (local.get $vecEnd)))
        (local.set $v0 (v128.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 2)))))
        ;; non-finite lanes are −1 in the comparison mask
        (local.set $bad (i32x4.add (local.get $bad)
          (f32x4.ne (f32x4.sub (local.get $v0) (local.get $v0)) (v128.const f32x4 0 0 0 0))))
        (local.set $v0
          (i32x4.sub
            (f32x4.add
              (f32x4.mul
                (f32x4.pmax
                  (f32x4.pmin
                    (f32x4.add (f32x4.mul (local.get $v0) (v128.const f32x4 0.5 0.5 0.5 0.5)) (v128.const f32x4 0.5 0.5 0.5 0.5))
                    (v128.const f32x4 1 1 1 1))
                  (v128.const f32x4 0 0 0 0))
                (v128.const f32x4 255 255 255 255))
              (v128.const f32x4 8388608 8388608 8388608 8388608))
            (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000)))
        (local.set $v0 (i16x8.narrow_i32x4_u (local.get $v0) (local.get $v0)))
        (v128.store32_lane 0 (i32.add (local.get $scratch) (local.get $i))
          (i8x16.narrow_i16x8_u (local.get $v0) (local.get $v0)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $convert)))
    (local.set $badCount (i32.sub (i32.const 0)
      (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $bad)) (i32x4.extract_lane 1 (local.get $bad)))
        (i32.add (i32x4.extract_lane 2 (local.get $bad)) (i32x4.extract_lane 3 (local.get $bad))))))
    ;; the last count mod 4 values, one lane each (pass 1 again on a splat)
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $x (f32.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 2)))))
        (if (f32.ne (f32.sub (local.get $x) (local.get $x)) (f32.const 0))
          (then (local.set $badCount (i32.add (local.get $badCount) (i32.const 1)))))
        (i32.store8 (i32.add (local.get $scratch) (local.get $i))
          (i32.trunc_sat_f32_u
            (f32.sub
              (f32.add
                (f32.mul
                  (f32.max (f32.min (f32.add (f32.mul (local.get $x) (f32.const 0.5)) (f32.const 0.5)) (f32.const 1)) (f32.const 0))
                  (f32.const 255))
                (f32.const 8388608))
              (f32.const 8388608))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail)))
    ;; pass 2: planes r, g, b -> r0 g0 b0 r1 g1 b1 …, sixteen pixels (48 bytes) at a time
    (local.set $vecEnd (i32.and (local.get $plane) (i32.const -16)))
    (block $interleaveDone
      (loop $interleave
        (br_if $interleaveDone (i32.ge_u (local.get $p) (local.get $vecEnd)))
        (local.set $at (i32.add (local.get $scratch) (local.get $p)))
        (local.set $r (v128.load (local.get $at)))
        (local.set $g (v128.load (i32.add (local.get $at) (local.get $plane))))
        (local.set $b (v128.load (i32.add (local.get $at) (i32.shl (local.get $plane) (i32.const 1)))))
        (local.set $out (i32.add (local.get $dst) (i32.mul (local.get $p) (i32.const 3))))
        ;; bytes 0..15: r0 g0 b0 r1 g1 b1 r2 g2 b2 r3 g3 b3 r4 g4 b4 r5
        (local.set $rg (i8x16.shuffle 0 16 0 1 17 0 2 18 0 3 19 0 4 20 0 5 (local.get $r) (local.get $g)))
        (v128.store offset=0 (local.get $out)
          (i8x16.shuffle 0 1 16 3 4 17 6 7 18 9 10 19 12 13 20 15 (local.get $rg) (local.get $b)))
        ;; bytes 16..31: g5 b5 r6 g6 b6 r7 g7 b7 r8 g8 b8 r9 g9 b9 r10 g10
        (local.set $rg (i8x16.shuffle 21 0 6 22 0 7 23 0 8 24 0 9 25 0 10 26 (local.get $r) (local.get $g)))
        (v128.store offset=16 (local.get $out)
          (i8x16.shuffle 0 21 2 3 22 5 6 23 8 9 24 11 12 25 14 15 (local.get $rg) (local.get $b)))
        ;; bytes 32..47: b10 r11 g11 b11 r12 g12 b12 r13 g13 b13 r14 g14 b14 r15 g15 b15
        (local.set $rg (i8x16.shuffle 0 11 27 0 12 28 0 13 29 0 14 30 0 15 31 0 (local.get $r) (local.get $g)))
        (v128.store offset=32 (local.get $out)
          (i8x16.shuffle 26 1 2 27 4 5 28 7 8 29 10 11 30 13 14 31 (local.get $rg) (local.get $b)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $interleave)))
    (block $pixelsDone
      (loop $pixels
        (br_if $pixelsDone (i32.ge_u (local.get $p) (local.get $plane)))
        (local.set $c (i32.const 0))
        (loop $channel
          (i32.store8 (i32.add (i32.add (local.get $dst) (i32.mul (local.get $p) (i32.const 3))) (local.get $c))
            (i32.load8_u (i32.add (i32.add (local.get $scratch) (i32.mul (local.get $c) (local.get $plane))) (local.get $p))))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br_if $channel (i32.lt_u (local.get $c) (i32.const 3))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $pixels)))
    (local.get $badCount))

  ;; ---------------------------------------------------------------------------------------------
  ;; torch's AVX2 normal_fill Box–Muller (see pipelines/noise): f32x4 lanes of the Cephes log and
  ;; sincos of avx_mathfun.h with torch's fused multiply-adds. WebAssembly has no FMA, so $fma4 forms
  ;; a·b + c in float64 (the product of two float32 values is exact there) and rounds the sum to
  ;; float32. That double rounding can only go wrong when the float64 sum lands exactly on a float32
  ;; midpoint (or in the float32 subnormal range); such lanes are redone by $fma1, the exact scalar
  ;; form of pipelines/noise/fma32.ts. Constants are float32 bit patterns.

  ;; float32(a·b + c) with one rounding, for float32 a, b, c (the port of fma32.ts).
  (func $fma1 (param $a f32) (param $b f32) (param $c f32) (result f32)
    (local $product f64) (local $sum f64) (local $rounded f32) (local $other f64)
    (local $yVirtual f64) (local $residue f64)
    (local.set $product (f64.mul (f64.promote_f32 (local.get $a)) (f64.promote_f32 (local.get $b))))
    (local.set $sum (f64.add (local.get $product) (f64.promote_f32 (local.get $c))))
    (local.set $rounded (f32.demote_f64 (local.get $sum)))
    (if (f64.eq (f64.promote_f32 (local.get $rounded)) (local.get $sum)) (then (return (local.get $rounded))))
    ;; Knuth's TwoSum residue of product + c: exact error of the float64 sum
    (local.set $yVirtual (f64.sub (local.get $sum) (local.get $product)))
    (local.set $residue
      (f64.add
        (f64.sub (local.get $product) (f64.sub (local.get $sum) (local.get $yVirtual)))
        (f64.sub (f64.promote_f32 (local.get $c)) (local.get $yVirtual))))
    (if (f32.eq (f32.abs (local.get $rounded)) (f32.const inf))
      (then
        ;; overflow: only the sum exactly at the threshold 2^128 − 2^103 may round back to ±FLT_MAX
        (if (f64.ne (f64.abs (local.get $sum)) (f64.const 0x1.ffffffp+127))
          (then (return (local.get $rounded))))
        (if (select (f64.lt (local.get $residue) (f64.const 0)) (f64.gt (local.get $residue) (f64.const 0))
              (f64.gt (local.get $sum) (f64.const 0)))
          (then (return (f32.copysign (f32.const 0x1.fffffep+127) (local.get $rounded)))))
        (return (local.get $rounded))))
    ;; when sum is a float32 midpoint, `other` is the float32 on its far side; otherwise not a float32
    (local.set $other (f64.sub (f64.mul (f64.const 2) (local.get $sum)) (f64.promote_f32 (local.get $rounded))))
    (if (f64.ne (f64.promote_f32 (f32.demote_f64 (local.get $other))) (local.get $other)) (then (return (local.get $rounded))))
    (if (f64.eq (local.get $residue) (f64.const 0)) (then (return (local.get $rounded))))
    (if (result f32) (i32.eq (f64.gt (local.get $residue) (f64.const 0)) (f64.gt (local.get $other) (f64.promote_f32 (local.get $rounded))))
      (then (f32.demote_f64 (local.get $other)))
      (else (local.get $rounded))))

  ;; Lanes of a float64 pair whose float32 rounding needs $fma1: exact float32 midpoints (the low 29
  ;; bits of the float64 are 1 followed by 28 zeros) and nonzero values below the float32 normal range.
  (func $needsExactFma (param $sum v128) (result v128)
    (v128.or
      (i64x2.eq (v128.and (local.get $sum) (v128.const i64x2 0x1fffffff 0x1fffffff)) (v128.const i64x2 0x10000000 0x10000000))
      (v128.and
        (f64x2.lt (f64x2.abs (local.get $sum)) (v128.const f64x2 0x1p-126 0x1p-126))
        (f64x2.ne (local.get $sum) (v128.const f64x2 0 0)))))

  ;; Four lanes of float32(a·b + c) with one rounding each.
  (func $fma4 (param $a v128) (param $b v128) (param $c v128) (result v128)
    (local $low v128) (local $high v128)
    (local.set $low
      (f64x2.add
        (f64x2.mul (f64x2.promote_low_f32x4 (local.get $a)) (f64x2.promote_low_f32x4 (local.get $b)))
        (f64x2.promote_low_f32x4 (local.get $c))))
    (local.set $high
      (f64x2.add
        (f64x2.mul
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $a) (local.get $a)))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $b) (local.get $b))))
        (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $c) (local.get $c)))))
    (if (v128.any_true (v128.or (call $needsExactFma (local.get $low)) (call $needsExactFma (local.get $high))))
      (then
        (return
          (f32x4.replace_lane 3
            (f32x4.replace_lane 2
              (f32x4.replace_lane 1
                (f32x4.splat (call $fma1 (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 0 (local.get $b)) (f32x4.extract_lane 0 (local.get $c))))
                (call $fma1 (f32x4.extract_lane 1 (local.get $a)) (f32x4.extract_lane 1 (local.get $b)) (f32x4.extract_lane 1 (local.get $c))))
              (call $fma1 (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 2 (local.get $b)) (f32x4.extract_lane 2 (local.get $c))))
            (call $fma1 (f32x4.extract_lane 3 (local.get $a)) (f32x4.extract_lane 3 (local.get $b)) (f32x4.extract_lane 3 (local.get $c)))))))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (f32x4.demote_f64x2_zero (local.get $low))
      (f32x4.demote_f64x2_zero (local.get $high))))

  ;; log256_ps on four positive float32 lanes.
  (func $log4 (param $value v128) (result v128)
    (local $x v128) (local $e v128) (local $m v128) (local $small v128) (local $z v128) (local $y v128) (local $ef v128)
    (local.set $x (f32x4.pmax (local.get $value) (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000)))
    ;; x = m·2^e with m in [0.5, 1)
    (local.set $e (i32x4.sub (i32x4.shr_u (local.get $x) (i32.const 23)) (v128.const i32x4 126 126 126 126)))
    (local.set $m
      (v128.or (v128.and (local.get $x) (v128.const i32x4 0x807fffff 0x807fffff 0x807fffff 0x807fffff))
        (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000)))
    ;; m < √½: e − 1 and m = (m − 1) + m; else m − 1
    (local.set $small (f32x4.lt (local.get $m) (v128.const i32x4 0x3f3504f3 0x3f3504f3 0x3f3504f3 0x3f3504f3)))
    (local.set $e (i32x4.add (local.get $e) (local.get $small)))
    (local.set $y (f32x4.sub (local.get $m) (v128.const f32x4 1 1 1 1)))
    (local.set $m (v128.bitselect (f32x4.add (local.get $y) (local.get $m)) (local.get $y) (local.get $small)))
    (local.set $ef (f32x4.convert_i32x4_s (local.get $e)))
    (local.set $z (f32x4.mul (local.get $m) (local.get $m)))
    (local.set $y (call $fma4 (v128.const i32x4 0x3d9021bb 0x3d9021bb 0x3d9021bb 0x3d9021bb) (local.get $m) (v128.const i32x4 0xbdebd1b8 0xbdebd1b8 0xbdebd1b8 0xbdebd1b8)))
    (local.set $y (call $fma4 (local.get $y) (local.get $m) (v128.const i32x4 0x3def251a 0x3def251a 0x3def251a 0x3def251a)))
    (local.set $y (call $fma4 (local.get $y) (local.get $m) (v128.const i32x4 0xbdfe5d4f 0xbdfe5d4f 0xbdfe5d4f 0xbdfe5d4f)))
    (local.set $y (call $fma4 (local.get $y) (local.get $m) (v128.const i32x4 0x3e11e9bf 0x3e11e9bf 0x3e11e9bf 0x3e11e9bf)))
    (local.set $y (call $fma4 (local.get $y) (local.get $m) (v128.const i32x4 0xbe2aae50 0xbe2aae50 0xbe2aae50 0xbe2aae50)))
    (local.set $y (call $fma4 (local.get $y) (local.get $m) (v128.const i32x4 0x3e4cceac 0x3e4cceac 0x3e4cceac 0x3e4cceac)))
    (local.set $y (call $fma4 (local.get $y) (local.get $m) (v128.const i32x4 0xbe7ffffc 0xbe7ffffc 0xbe7ffffc 0xbe7ffffc)))
    (local.set $y (call $fma4 (local.get $y) (local.get $m) (v128.const i32x4 0x3eaaaaaa 0x3eaaaaaa 0x3eaaaaaa 0x3eaaaaaa)))
    (local.set $y (f32x4.mul (local.get $y) (local.get $m)))
    (local.set $y (call $fma4 (local.get $y) (local.get $z)
      (f32x4.mul (local.get $ef) (v128.const i32x4 0xb95e8083 0xb95e8083 0xb95e8083 0xb95e8083))))
    (local.set $y (call $fma4 (local.get $z) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5) (local.get $y)))
    (local.set $m (f32x4.add (local.get $m) (local.get $y)))
    (call $fma4 (local.get $ef) (v128.const i32x4 0x3f318000 0x3f318000 0x3f318000 0x3f318000) (local.get $m)))

  ;; sincos256_ps on four float32 lanes: returns sin, cos.
  (func $sincos4 (param $theta v128) (result v128 v128)
    (local $x v128) (local $signSin v128) (local $j v128) (local $q v128) (local $z v128)
    (local $cosPoly v128) (local $sinPoly v128) (local $useSinPoly v128) (local $signCos v128)
    (local $sin v128) (local $cos v128)
    (local.set $x (f32x4.abs (local.get $theta)))
    ;; sign masks (0x80000000 per lane to flip): the sign of θ, flipped when bit 2 of the quadrant is set
    (local.set $signSin (v128.and (local.get $theta) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))
    (local.set $j (i32x4.trunc_sat_f32x4_s (f32x4.mul (local.get $x) (v128.const i32x4 0x3fa2f983 0x3fa2f983 0x3fa2f983 0x3fa2f983))))
    (local.set $j (v128.and (i32x4.add (local.get $j) (v128.const i32x4 1 1 1 1)) (v128.const i32x4 -2 -2 -2 -2)))
    (local.set $signSin (v128.xor (local.get $signSin) (i32x4.shl (v128.and (local.get $j) (v128.const i32x4 4 4 4 4)) (i32.const 29))))
    ;; cos is negated where ((j − 2) & 4) = 0
    (local.set $signCos
      (i32x4.shl
        (v128.xor (v128.and (i32x4.sub (local.get $j) (v128.const i32x4 2 2 2 2)) (v128.const i32x4 4 4 4 4)) (v128.const i32x4 4 4 4 4))
        (i32.const 29)))
    (local.set $useSinPoly (i32x4.eq (v128.and (local.get $j) (v128.const i32x4 2 2 2 2)) (v128.const i32x4 0 0 0 0)))
    (local.set $q (f32x4.convert_i32x4_s (local.get $j)))
    ;; extended-precision reduction x − j·π/4 in three parts
    (local.set $x (call $fma4 (local.get $q) (v128.const i32x4 0xbf490000 0xbf490000 0xbf490000 0xbf490000) (local.get $x)))
    (local.set $x (call $fma4 (local.get $q) (v128.const i32x4 0xb97da000 0xb97da000 0xb97da000 0xb97da000) (local.get $x)))
    (local.set $x (call $fma4 (local.get $q) (v128.const i32x4 0xb3222169 0xb3222169 0xb3222169 0xb3222169) (local.get $x)))
    (local.set $z (f32x4.mul (local.get $x) (local.get $x)))
    (local.set $cosPoly (call $fma4 (v128.const i32x4 0x37ccf5ce 0x37ccf5ce 0x37ccf5ce 0x37ccf5ce) (local.get $z) (v128.const i32x4 0xbab6061a 0xbab6061a 0xbab6061a 0xbab6061a)))
    (local.set $cosPoly (call $fma4 (local.get $cosPoly) (local.get $z) (v128.const i32x4 0x3d2aaaa5 0x3d2aaaa5 0x3d2aaaa5 0x3d2aaaa5)))
    (local.set $cosPoly (f32x4.mul (local.get $cosPoly) (local.get $z)))
    (local.set $cosPoly (call $fma4 (local.get $cosPoly) (local.get $z) (f32x4.neg (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (local.get $z)))))
    (local.set $cosPoly (f32x4.add (local.get $cosPoly) (v128.const f32x4 1 1 1 1)))
    (local.set $sinPoly (call $fma4 (v128.const i32x4 0xb94ca1f9 0xb94ca1f9 0xb94ca1f9 0xb94ca1f9) (local.get $z) (v128.const i32x4 0x3c08839e 0x3c08839e 0x3c08839e 0x3c08839e)))
    (local.set $sinPoly (call $fma4 (local.get $sinPoly) (local.get $z) (v128.const i32x4 0xbe2aaaa3 0xbe2aaaa3 0xbe2aaaa3 0xbe2aaaa3)))
    (local.set $sinPoly (f32x4.mul (local.get $sinPoly) (local.get $z)))
    (local.set $sinPoly (call $fma4 (local.get $sinPoly) (local.get $x) (local.get $x)))
    ;; select, add +0 (the masked-out lane's contribution in the AVX code: −0 becomes +0), then the signs
    (local.set $sin (f32x4.add (v128.bitselect (local.get $sinPoly) (local.get $cosPoly) (local.get $useSinPoly)) (v128.const f32x4 0 0 0 0)))
    (local.set $cos (f32x4.add (v128.bitselect (local.get $cosPoly) (local.get $sinPoly) (local.get $useSinPoly)) (v128.const f32x4 0 0 0 0)))
    (v128.xor (local.get $sin) (local.get $signSin))
    (v128.xor (local.get $cos) (local.get $signCos)))

;; Four lanes of a Box–Muller block at `at`: uniforms u at `at` (-> r·cos θ), angle uniforms at `at` + 32 (-> r·sin θ).
  (func $boxMuller4 (param $at i32)
    (local $radius v128) (local $sin v128) (local $cos v128)
    (local.set $radius
      (f32x4.sqrt (f32x4.mul (v128.const f32x4 -2 -2 -2 -2)
        (call $log4 (f32x4.sub (v128.const f32x4 1 1 1 1) (v128.load (local.get $at)))))))
    (call $sincos4 (f32x4.mul (v128.const i32x4 0x40c90fdb 0x40c90fdb 0x40c90fdb 0x40c90fdb) (v128.load offset=32 (local.get $at))))
    (local.set $cos)
    (local.set $sin)
    ;; torch stores fma(n, std = 1, mean = 0): adding +0 turns −0 into +0
    (v128.store (local.get $at) (f32x4.add (f32x4.mul (local.get $radius) (local.get $cos)) (v128.const f32x4 0 0 0 0)))
    (v128.store offset=32 (local.get $at) (f32x4.add (f32x4.mul (local.get $radius) (local.get $sin)) (v128.const f32x4 0 0 0 0))))

  ;; In place, `blocks` blocks of 16 uniforms at `data` -> 16 normals each: lanes 0..7 hold u (the
  ;; radius comes from log(1 − u)) and get r·cos θ, lanes 8..15 hold θ's uniform and get r·sin θ.
  (func (export "box_muller16") (param $data i32) (param $blocks i32)
    (local $at i32) (local $end i32)
    (local.set $at (local.get $data))
    (local.set $end (i32.add (local.get $data) (i32.shl (local.get $blocks) (i32.const 6))))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (call $boxMuller4 (local.get $at))
        (call $boxMuller4 (i32.add (local.get $at) (i32.const 16)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (br $block))))

  ;; out[i] = float32(a[i]·b[i] + c[i]) with one rounding, four lanes at a time (n a multiple of 4):
  ;; $fma4 exposed so that tests can hold it against exact arithmetic.
  (func (export "fma32x4") (param $a i32) (param $b i32) (param $c i32) (param $out i32) (param $n i32)
    (local $offset i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $offset) (local.get $end)))
        (v128.store (i32.add (local.get $out) (local.get $offset))
          (call $fma4
            (v128.load (i32.add (local.get $a) (local.get $offset)))
            (v128.load (i32.add (local.get $b) (local.get $offset)))
            (v128.load (i32.add (local.get $c) (local.get $offset)))))
        (local.set $offset (i32.add (local.get $offset) (i32.const 16)))
        (br $quads))))

  ;; ---------------------------------------------------------------------------------------------
  ;; float32 <-> IEEE binary16 (float16 model inputs and outputs), exact: round to nearest, ties to even,
  ;; subnormals, overflow to ±Inf; a NaN keeps the top 10 bits of its payload and is made quiet.

;; n float32 at `src` -> n binary16 at `dst`, four at a time.
  (func (export "float32_to_float16") (param $src i32) (param $dst i32) (param $n i32)
    (local $i i32) (local $vecEnd i32) (local $x v128) (local $sign v128) (local $a v128) (local $big v128) (local $small v128) (local $half v128)
    (local.set $vecEnd (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        ;; the last n mod 4 values go through the same lanes one at a time
        (local.set $x
          (if (result v128) (i32.lt_u (local.get $i) (local.get $vecEnd))
            (then (v128.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 2)))))
            (else (v128.load32_zero (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 2)))))))
        (local.set $sign (v128.and (local.get $x) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))
        (local.set $a (v128.xor (local.get $x) (local.get $sign)))
        ;; |x| ≥ 2^16: Inf, or NaN keeping the top 10 payload bits (quiet), or finite beyond binary16's range
        (local.set $big
          (v128.bitselect
            (v128.or (v128.const i32x4 0x7e00 0x7e00 0x7e00 0x7e00)
              (v128.and (i32x4.shr_u (local.get $a) (i32.const 13)) (v128.const i32x4 0x3ff 0x3ff 0x3ff 0x3ff)))
            (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)
            (i32x4.gt_s (local.get $a) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))))
        ;; |x| < 2^-14: binary16 subnormal or zero; adding 0.5 (ulp 2^-24) rounds to the subnormal grid
        (local.set $small
          (i32x4.sub (f32x4.add (local.get $a) (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000))
            (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000)))
        ;; normal: rebias the exponent and round the 13 dropped bits half to even (a carry may reach Inf)
        (local.set $half
          (v128.or
            (i32x4.shr_u (local.get $sign) (i32.const 16))
            (v128.bitselect
              (local.get $big)
              (v128.bitselect
                (local.get $small)
                (i32x4.shr_u
                  (i32x4.add
                    (i32x4.add (local.get $a) (v128.const i32x4 -0x37fff001 -0x37fff001 -0x37fff001 -0x37fff001))
                    (v128.and (i32x4.shr_u (local.get $a) (i32.const 13)) (v128.const i32x4 1 1 1 1)))
                  (i32.const 13))
                (i32x4.lt_s (local.get $a) (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000)))
              (i32x4.ge_s (local.get $a) (v128.const i32x4 0x47800000 0x47800000 0x47800000 0x47800000)))))
        (local.set $half (i16x8.narrow_i32x4_u (local.get $half) (local.get $half)))
        (if (i32.lt_u (local.get $i) (local.get $vecEnd))
          (then
            (v128.store64_lane 0 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 1))) (local.get $half))
            (local.set $i (i32.add (local.get $i) (i32.const 4))))
          (else
            (v128.store16_lane 0 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 1))) (local.get $half))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))))
        (br $quads))))

  ;; n binary16 at `src` -> n float32 at `dst`, four at a time.
  (func (export "float16_to_float32") (param $src i32) (param $dst i32) (param $n i32)
    (local $i i32) (local $vecEnd i32) (local $h v128) (local $o v128) (local $exponent v128)
    (local.set $vecEnd (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $h
          (i32x4.extend_low_i16x8_u
            (if (result v128) (i32.lt_u (local.get $i) (local.get $vecEnd))
              (then (v128.load64_zero (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))
              (else (i16x8.splat (i32.load16_u (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))))))
        (local.set $o (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)) (i32.const 13)))
        (local.set $exponent (v128.and (local.get $o) (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000)))
        (local.set $o (i32x4.add (local.get $o) (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000)))
        ;; Inf / NaN: exponent all ones
        (local.set $o (i32x4.add (local.get $o)
          (v128.and (i32x4.eq (local.get $exponent) (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000))
            (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))))
        ;; zero / subnormal: renormalise exactly through a float subtraction
        (local.set $o
          (v128.or
            (v128.bitselect
              (f32x4.sub (i32x4.add (local.get $o) (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000))
                (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))
              (local.get $o)
              (i32x4.eq (local.get $exponent) (v128.const i32x4 0 0 0 0)))
            (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16))))
        (if (i32.lt_u (local.get $i) (local.get $vecEnd))
          (then
            (v128.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))) (local.get $o))
            (local.set $i (i32.add (local.get $i) (i32.const 4))))
          (else
            (v128.store32_lane 0 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))) (local.get $o))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))))
        (br $quads))))
)
