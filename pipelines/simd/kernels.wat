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

)
