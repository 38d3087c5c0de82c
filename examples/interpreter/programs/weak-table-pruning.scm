;; weak-table-pruning: a weak hash table used only through hash-table-set! and hash-table-ref must
;; not hold the entries of collected values forever. (Dead entries used to be dropped only by
;; hash-table-count, -keys and ->alist, so a cache that is only ever set and looked up grew without
;; bound: here it ran out of memory.) hash-table-set! drops the dead entries when the table would
;; grow, and hash-table-ref drops the dead entry it finds. (hash-table-held t) is the number of
;; entries the table holds, dead ones included: what its memory grows with.
(define (say . items) (for-each display items) (newline))

;; A memo cache whose results are used once and dropped: 6000 keys, each value garbage soon
;; after it is stored. The table must stay bounded by what is alive, not by what was ever stored.
(define cache (make-weak-hash-table))
(define most-held 0)
(define (fill-cache n)
  (let loop ((i 0))
    (when (< i n)
      (hash-table-set! cache i (list 'result i))
      (hash-table-ref cache (quotient i 2))
      (set! most-held (max most-held (hash-table-held cache)))
      (loop (+ i 1)))))
(guard (e ((memory-error? e) (say "ran out of memory after " (hash-table-held cache) " entries")))
  (fill-cache 6000)
  (say "6000 values stored, the most entries held at once: under 2000: " (< most-held 2000)))
(set! cache (make-weak-hash-table))

;; hash-table-ref drops a dead entry it finds: 100 values stored with collection off, then
;; collected, then every key looked up; what the table holds afterwards is what was found.
(define lookups (make-weak-hash-table))
(gc-collect)
(gc-disable)
(let loop ((i 0)) (when (< i 100) (hash-table-set! lookups i (list 'value i)) (loop (+ i 1))))
(gc-enable)
(gc-collect)
(define found
  (let loop ((i 0) (found 0))
    (if (= i 100) found (loop (+ i 1) (if (hash-table-ref lookups i) (+ found 1) found)))))
(say "some values were collected: " (< found 100))
(say "the lookups dropped the dead entries: " (= (hash-table-held lookups) found))
(say "heap consistent: " (heap-verify))
